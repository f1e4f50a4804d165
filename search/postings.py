"""One term's postings in one field as numpy arrays, read straight from Whoosh's posting blocks.

Whoosh's matchers walk postings one Python call at a time, and decode each article's
positions with its own pickle.loads: two common words in a phrase cost ~40 ms at 10k
articles. Here a term's postings are read once per index build into arrays (article
numbers, term frequencies and, when asked for, positions), so that phrases and word
proximity are a few vectorised operations, and kept in a memory-bounded cache.

Positions are stored as keys `article << 32 | position`, sorted, so "word B right after
word A in the same article" is one searchsorted over the whole index.

This reads Whoosh-Reloaded 2.7.5's W3 codec (pinned in pyproject.toml) directly.
"""

from __future__ import annotations

import itertools
import pickle
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.formats import Positions
from whoosh.matching.wrappers import FilterMatcher

POSITION_BITS = 32
# Per process. The arrays are private memory (decoded from the memory-mapped segments); 48 MB holds
# the few hundred most frequent terms of a 10,000-article real-text index with their positions.
CACHE_BYTES = 48 * 1024 * 1024
_CHECK_EVERY = 64  # blocks between deadline checks

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_EMPTY_INTS: IntArray = np.zeros(0, dtype=np.int64)


class QueryTimeout(Exception):
    """Evaluation ran past its deadline."""


@dataclass(frozen=True)
class Postings:
    """Articles holding one term in one field, in article order."""

    docs: IntArray
    weights: FloatArray  # term frequency in each article
    keys: IntArray | None = None  # sorted `doc << 32 | position` of every occurrence, if read

    @property
    def nbytes(self) -> int:
        return self.docs.nbytes + self.weights.nbytes + (self.keys.nbytes if self.keys is not None else 0)

    def weights_of(self, docs: IntArray) -> FloatArray:
        """Term frequency in each of `docs` (all of which must hold the term)."""
        return self.weights[np.searchsorted(self.docs, docs)]


EMPTY = Postings(_EMPTY_INTS, np.zeros(0, dtype=np.float64), _EMPTY_INTS)


class PostingsReader:
    """Reads and caches postings of one searcher (one index build). Not thread-safe."""

    def __init__(self, searcher: Any, max_bytes: int = CACHE_BYTES) -> None:
        self.searcher = searcher
        self.max_bytes = max_bytes
        self.cache: OrderedDict[tuple[str, str], Postings] = OrderedDict()
        self.bytes = 0
        self.deadline = float("inf")

    def has(self, fieldname: str, term: str) -> bool:
        """Whether any article holds the term in the field (a dictionary lookup, no postings read)."""
        return (fieldname, term) in self.searcher.reader()

    def get(self, fieldname: str, term: str, positions: bool = False) -> Postings:
        """Postings of a term in a field (EMPTY if absent); with positions, the keys are filled in."""
        key = (fieldname, term)
        found = self.cache.get(key)
        if found is not None and (found.keys is not None or not positions):
            self.cache.move_to_end(key)
            return found
        if not self.has(fieldname, term):
            return EMPTY
        if positions and type(self.searcher.schema[fieldname].format) is not Positions:
            raise ValueError(f"field {fieldname!r} stores no positions")
        postings = self._read(fieldname, term, positions)
        if found is not None:
            self.bytes -= found.nbytes
        self.cache[key] = postings
        self.cache.move_to_end(key)
        self.bytes += postings.nbytes
        while self.bytes > self.max_bytes and len(self.cache) > 1:
            _, dropped = self.cache.popitem(last=False)
            self.bytes -= dropped.nbytes
        return postings

    def _read(self, fieldname: str, term: str, positions: bool) -> Postings:
        ids: list[IntArray] = []
        weights: list[FloatArray] = []
        values: list[list[int]] = []
        blocks = 0
        for leaf, offset in self.searcher.leaf_searchers():
            reader = leaf.reader()
            if (fieldname, term) not in reader:
                continue
            matcher = reader.postings(fieldname, term)
            deleted: IntArray | None = None
            if isinstance(matcher, FilterMatcher) and matcher._exclude:
                deleted = np.fromiter(matcher._ids, dtype=np.int64)
                matcher = matcher.child
            if not isinstance(matcher, W3LeafMatcher) or matcher._byteids:
                raise TypeError(f"unexpected Whoosh posting format {type(matcher).__name__}; "
                                "the index must be written by whoosh-reloaded 2.7.5")
            while matcher.is_active():
                if matcher._data is None:
                    matcher._read_data()
                block_ids, block_weights, block_values = _decode_data(matcher._data, matcher._blocklength)
                decoded = _decode_block(block_values) if positions else []
                if deleted is not None and len(deleted):
                    keep = ~np.isin(block_ids, deleted)
                    block_ids, block_weights = block_ids[keep], block_weights[keep]
                    decoded = list(itertools.compress(decoded, keep.tolist()))
                ids.append(block_ids + offset)
                weights.append(block_weights)
                values.extend(decoded)
                matcher._next_block()
                blocks += 1
                if blocks % _CHECK_EVERY == 0 and time.perf_counter() > self.deadline:
                    raise QueryTimeout
        if not ids:
            return EMPTY
        docs = np.concatenate(ids)
        return Postings(docs, np.concatenate(weights), _position_keys(docs, values) if positions else None)


def _decode_data(data: tuple[Any, Any, Any], length: int) -> tuple[IntArray, FloatArray, tuple[bytes, ...]]:
    """A W3 block's (delta-coded ids, weights, values) as arrays (see W3PostingsWriter._write_block)."""
    mini_ids, mini_weights, block_values = data
    ids: IntArray = np.cumsum(np.array(mini_ids, dtype=np.int64))
    if mini_weights is None:
        weights: FloatArray = np.ones(length)
    elif isinstance(mini_weights, float | int):
        weights = np.full(length, float(mini_weights))
    else:
        weights = np.array(mini_weights, dtype=np.float64)
    return ids, weights, block_values


def _decode_block(values: tuple[bytes, ...] | None) -> list[list[int]]:
    """The position deltas of every posting in a block, with one pickle.loads for the block.

    Each value is a 4-byte count, then a protocol-2 pickle of a list of deltas (see
    whoosh.formats.Positions.encode): joined between MARK and TUPLE they are one pickle.
    """
    if not values:
        return []
    body = b"".join(value[6:-1] if value.endswith(b".") else value[6:] for value in values)
    decoded: tuple[list[int], ...] = pickle.loads(b"\x80\x02(" + body + b"t.")
    return list(decoded)


def _position_keys(docs: IntArray, deltas: list[list[int]]) -> IntArray:
    """Sorted `doc << 32 | position` keys from each article's position deltas."""
    counts = np.fromiter(map(len, deltas), dtype=np.int64, count=len(deltas))
    flat = np.fromiter(itertools.chain.from_iterable(deltas), dtype=np.int64, count=int(counts.sum()))
    if not len(flat):
        return _EMPTY_INTS
    running = np.cumsum(flat)
    first = np.cumsum(counts) - counts  # where each article's run starts in `flat`
    before = np.concatenate(([0], running))[first]  # the running total before it
    positions = running - np.repeat(before, counts)
    keys: IntArray = np.repeat(docs << POSITION_BITS, counts) + positions
    return keys


def phrase_starts(postings: list[Postings]) -> IntArray:
    """Keys of the first word wherever word i stands at position p + i, in every article
    (Whoosh's Phrase with slop 1). Every Postings must carry keys."""
    starts = postings[0].keys
    assert starts is not None
    for offset, later in enumerate(postings[1:], 1):
        keys = later.keys
        assert keys is not None
        if not len(starts) or not len(keys):
            return _EMPTY_INTS
        wanted = starts + offset
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        starts = starts[keys[at] == wanted]
    return starts


def docs_of(keys: IntArray) -> IntArray:
    """The distinct articles of sorted position keys."""
    return np.unique(keys >> POSITION_BITS)


def near_docs(first: Postings, second: Postings, docs: IntArray, slop: int) -> IntArray:
    """Which of `docs` (sorted) hold the two words within `slop` positions of each other."""
    a, b = first.keys, second.keys
    assert a is not None and b is not None
    if not len(a) or not len(b) or not len(docs):
        return _EMPTY_INTS
    a = a[np.isin(a >> POSITION_BITS, docs)]
    if not len(a):
        return _EMPTY_INTS
    # The first B at or after A - slop is within slop of A if it is at most A + slop (a key
    # before this article's first position cannot land in another article: positions are small).
    at = np.searchsorted(b, a - slop)
    inside = at < len(b)
    a, at = a[inside], at[inside]
    return docs_of(a[b[at] <= a + slop])
