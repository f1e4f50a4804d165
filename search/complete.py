"""Completion of what a reader is typing: titles, error codes, article ids and products.

The build writes `complete.json` into each build folder: every completable text once, and a
sorted list of keys, one per place a word starts in a text (each Chinese character starts one),
so `globalpro`, `0x8007`, `outl` and `打印` find `GlobalProtect`, `0x80070005`, `Outlook` and
`网络打印机脱机`. A query is a binary search in that list; prefixes shared by very many keys
(one or two letters) have their best entries ranked at build time. The typed text is matched as
typed: nothing is spell-corrected, stemmed or expanded.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kb.article import Article
from kb.files import atomic_open, atomic_write
from kb.schema import is_listed
from kb.vocabulary import Vocabulary

COMPLETE_FILE = "complete.npz"  # numpy arrays: a worker loads them in milliseconds, not a 5 MB JSON parse
COMPLETE_KEY_FILE = "complete.key"
FORMAT = 2
MAX_KEY_CHARS = 48  # longer prefixes are matched on their first 48 characters, then checked in full
MAX_PREFIX_CHARS = 200
SCATTERED_PENALTY = 0.5  # the words start words of the text, but not one after another
SCAN_LIMIT = 256  # a prefix with more keys than this is answered from its list ranked at build time
RANKED_PER_PREFIX = 24
DEFAULT_LIMIT = 8
MAX_LIMIT = 20

# Kinds of completion, best first at equal match: a title is what most readers look for.
KIND_WEIGHTS = {"title": 3.0, "error": 2.6, "product": 2.4, "id": 1.5}
STATE_WEIGHTS = {"validated": 0.6, "unverified": 0.3}
START_BONUS = 1.0  # the prefix starts the text, not a later word


@dataclass(frozen=True)
class Completion:
    """One completion: its text, the typed parts in it as [start, end) character ranges, and what it leads to."""

    kind: str  # title, error, id or product
    text: str
    marks: tuple[tuple[int, int], ...]
    target: str  # the article id (title, id), the product id (product) or the text (error: a search)
    lang: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "marks": [list(m) for m in self.marks],
                "target": self.target, "lang": self.lang}


def normalize(text: str) -> tuple[str, list[int]]:
    """Text as keys are compared (NFKC, case-folded, runs of spaces as one), with each normalized
    character's index in the original text, so a match can be marked in what the reader sees."""
    out: list[str] = []
    origin: list[int] = []
    last_space = True
    for index, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char).casefold()
        for piece in folded:
            if piece.isspace():
                if last_space:
                    continue
                piece, last_space = " ", True
            else:
                last_space = False
            out.append(piece)
            origin.append(index)
    while out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


def normalized(text: str) -> str:
    """`normalize(text)[0]`, quickly for ASCII text (most titles and every error code)."""
    return " ".join(text.lower().split()) if text.isascii() else normalize(text)[0]


def normalize_prefix(prefix: str) -> str:
    """A typed prefix as keys are compared; a trailing space is kept (the reader finished a word)."""
    text = normalized(prefix[:MAX_PREFIX_CHARS])
    return text + " " if text and prefix[-1:].isspace() else text


_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
# A letter or digit after anything else, every CJK character, and a letter after a CJK character.
_WORD_START = re.compile(rf"(?<![^\W_])[^\W_]|[{_CJK_CLASS}]|(?<=[{_CJK_CLASS}])[^\W_]")


def word_starts(text: str) -> Iterator[int]:
    """Where a word starts in normalized text: after a non-alphanumeric, and at every CJK character."""
    return (m.start() for m in _WORD_START.finditer(text))


@dataclass(frozen=True)
class _Entry:
    kind: str
    text: str
    target: str
    lang: str
    weight: float


def _entries(articles: Iterable[Article], vocabulary: Vocabulary) -> list[_Entry]:
    """Every completable text once: titles and ids per article, each error and product once."""
    entries: list[_Entry] = []
    errors: dict[str, _Entry] = {}
    products: set[str] = set()
    for article in articles:
        if not is_listed(article.state):  # drafts are never shown, archived articles only when asked for
            continue
        state = STATE_WEIGHTS.get(article.state, 0.0)
        entries.append(_Entry("title", article.title, article.id, article.lang, KIND_WEIGHTS["title"] + state))
        entries.append(_Entry("id", article.id, article.id, article.lang, KIND_WEIGHTS["id"] + state))
        for code in article.errors:
            key = normalized(code)
            known = errors.get(key)
            weight = KIND_WEIGHTS["error"] + state
            if known is None or known.weight < weight:
                errors[key] = _Entry("error", code, code, "", weight)
        products.update(p.partition("@")[0] for p in article.products)
    entries.extend(errors.values())
    for product_id in sorted(products):
        product = vocabulary.products.get(product_id)
        name = product.name if product else product_id
        entries.append(_Entry("product", name, product_id, "", KIND_WEIGHTS["product"]))
        name_key = normalized(name)
        if not any(name_key.startswith(product_id, at) for at in word_starts(name_key)):  # "Microsoft Outlook"
            entries.append(_Entry("product", product_id, product_id, "", KIND_WEIGHTS["product"] - 0.2))
    return entries


def _score(entry: _Entry, offset: int) -> float:
    # Shorter texts first at equal weight: "Outlook" before "Outlook keeps asking for a password".
    return entry.weight + (START_BONUS if offset == 0 else 0.0) - min(len(entry.text), 200) / 400


def build_completions(articles: Iterable[Article], vocabulary: Vocabulary) -> dict[str, Any]:
    """The completion data of one build: entries, sorted keys and the ranked lists of busy prefixes."""
    return _build(_entries(articles, vocabulary))


def _entries_key(entries: list[_Entry]) -> str:
    """A digest of the entries: equal digests, equal completion data."""
    data = json.dumps([[e.kind, e.text, e.target, e.lang, e.weight] for e in entries], ensure_ascii=False)
    return hashlib.blake2b(f"{FORMAT}\0{data}".encode(), digest_size=16).hexdigest()


def _build(entries: list[_Entry]) -> dict[str, Any]:
    keyed: list[tuple[str, int, int]] = []
    for number, entry in enumerate(entries):
        text = normalized(entry.text)
        for start in word_starts(text):
            keyed.append((text[start:start + MAX_KEY_CHARS], number, start))
    keyed.sort()
    keys = [k for k, _, _ in keyed]
    refs = [n for _, n, _ in keyed]
    offsets = [o for _, _, o in keyed]
    scores = [_score(entries[n], o) for _, n, o in keyed]
    ranked: dict[str, list[list[int]]] = {}
    groups: list[tuple[int, int]] = [(0, len(keys))]
    length = 0
    while groups:
        length += 1
        busy: list[tuple[int, int]] = []
        for lo, hi in groups:
            start = lo
            while start < hi:
                prefix = keys[start][:length]
                if len(prefix) < length:  # a key shorter than the prefixes of this round
                    start += 1
                    continue
                end = bisect.bisect_right(keys, prefix + "\U0010ffff", start, hi)
                if end - start > SCAN_LIMIT:
                    ranked[prefix] = _best(scores, refs, offsets, start, end, RANKED_PER_PREFIX)
                    busy.append((start, end))
                start = end
        groups = busy
    return {"format": FORMAT, "entries": [[e.kind, e.text, e.target, e.lang, e.weight] for e in entries],
            "keys": keys, "refs": refs, "offsets": offsets, "ranked": ranked}


def _best(scores: list[float], refs: list[int], offsets: list[int], lo: int, hi: int, limit: int
          ) -> list[list[int]]:
    """The best [entry, offset] pairs among keys[lo:hi], one per entry, best first (ties: lower key)."""
    # An entry has a key per word, so take a few more than `limit` and drop repeats.
    wanted = limit * 3
    while True:
        top = heapq.nsmallest(wanted, range(lo, hi), key=lambda i: -scores[i])
        chosen: dict[int, int] = {}
        for i in top:
            chosen.setdefault(refs[i], offsets[i])
        if len(chosen) >= limit or len(top) == hi - lo:
            return [[number, offset] for number, offset in list(chosen.items())[:limit]]
        wanted *= 4
def write_completions(build_dir: Path, articles: Iterable[Article], vocabulary: Vocabulary,
                      live: Path | None = None) -> None:
    """Write complete.json into a build folder (atomically: the build's manifest is written after it).

    Most incremental builds change bodies, not titles, error codes or states: when the entries
    equal the live build's, its file is hard-linked instead of rebuilt (a second at 10,000 articles).
    """
    entries = _entries(articles, vocabulary)
    key = _entries_key(entries)
    # Files of an incremental build may be hard links to the live build's: replace them, never write into them.
    target = build_dir / COMPLETE_FILE
    reused = False
    if live is not None:
        try:
            if (live / COMPLETE_KEY_FILE).read_text(encoding="utf-8") == key:
                tmp = build_dir / (COMPLETE_FILE + ".link")
                tmp.unlink(missing_ok=True)
                os.link(live / COMPLETE_FILE, tmp)
                os.replace(tmp, target)
                reused = True
        except OSError:
            pass  # no reusable file: build it
    if not reused:
        save: Any = np.savez  # its stubs read every keyword as its `allow_pickle` flag
        with atomic_open(target) as handle:
            save(handle, **_pack(_build(entries)))
    atomic_write(build_dir / COMPLETE_KEY_FILE, key)


KINDS = tuple(KIND_WEIGHTS)


def _strings(values: list[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Strings as one UTF-8 blob and the offsets between them."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


class _Strings:
    """A sequence of UTF-8 strings kept as bytes (sorted UTF-8 bytes sort as their code points do)."""

    def __init__(self, blob: bytes, offsets: npt.NDArray[np.int64]) -> None:
        self.blob = blob
        self.offsets = offsets.tolist()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> bytes:
        return self.blob[self.offsets[index]:self.offsets[index + 1]]

    def text(self, index: int) -> str:
        return self[index].decode("utf-8")


def _pack(data: dict[str, Any]) -> dict[str, npt.NDArray[Any]]:
    """The completion data as the arrays complete.npz holds."""
    entries = data["entries"]
    langs = sorted({str(e[3]) for e in entries} | {""})
    ranked = data["ranked"]
    pairs = np.full((len(ranked), RANKED_PER_PREFIX, 2), -1, dtype=np.int32)
    for row, prefix in enumerate(ranked):
        for column, (number, offset) in enumerate(ranked[prefix][:RANKED_PER_PREFIX]):
            pairs[row, column] = (number, offset)
    arrays: dict[str, npt.NDArray[Any]] = {
        "format": np.array([FORMAT]),
        "refs": np.array(data["refs"], dtype=np.int32),
        "offsets": np.array(data["offsets"], dtype=np.int32),
        "kind": np.array([KINDS.index(e[0]) for e in entries], dtype=np.uint8),
        "lang": np.array([langs.index(str(e[3])) for e in entries], dtype=np.uint8),
        "weight": np.array([float(e[4]) for e in entries], dtype=np.float64),
        "length": np.array([len(str(e[1])) for e in entries], dtype=np.int32),
        "ranked_pairs": pairs,
    }
    for name, values in (("key", data["keys"]), ("text", [str(e[1]) for e in entries]),
                         ("target", [str(e[2]) for e in entries]), ("langs", langs), ("ranked", list(ranked))):
        arrays[f"{name}_blob"], arrays[f"{name}_offsets"] = _strings(values)
    return arrays


class Completer:
    """The completion data of one build, loaded once per process (a few milliseconds at 10,000 articles)."""

    def __init__(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        def strings(name: str) -> _Strings:
            blob = arrays.get(f"{name}_blob")
            offsets = arrays.get(f"{name}_offsets")
            if blob is None or offsets is None:
                return _Strings(b"", np.zeros(1, dtype=np.int64))
            return _Strings(blob.tobytes(), offsets)

        self.keys = strings("key")
        self.texts = strings("text")
        self.targets = strings("target")
        langs = strings("langs")
        self.langs = [langs.text(i) for i in range(len(langs))]
        empty_int = np.zeros(0, dtype=np.int32)
        self.refs = arrays.get("refs", empty_int)
        self.offsets = arrays.get("offsets", empty_int)
        self.kind = arrays.get("kind", np.zeros(0, dtype=np.uint8))
        self.lang = arrays.get("lang", np.zeros(0, dtype=np.uint8))
        weight = arrays.get("weight", np.zeros(0))
        length = arrays.get("length", empty_int)
        # The score of an entry without the start bonus, and of every key (see _score).
        self.base = weight - np.minimum(length, 200) / 400
        self.key_scores = self.base[self.refs] + np.where(self.offsets == 0, START_BONUS, 0.0)
        prefixes = strings("ranked")
        pairs = arrays.get("ranked_pairs", np.zeros((0, RANKED_PER_PREFIX, 2), dtype=np.int32)).tolist()
        self.ranked = {prefixes.text(i): [(n, o) for n, o in pairs[i] if n >= 0] for i in range(len(prefixes))}
        self._words: dict[int, tuple[str, list[int]]] = {}  # entry -> normalized text and word starts

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Completer:
        """A completer straight from build_completions (benchmarks, tests)."""
        return cls(_pack(data))

    @classmethod
    def open(cls, build_dir: Path) -> Completer:
        """The completer of a build folder (empty for a build made before completion existed)."""
        try:
            with np.load(build_dir / COMPLETE_FILE, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (OSError, ValueError):
            arrays = {}
        if arrays.get("format", np.array([0])).tolist() != [FORMAT]:
            arrays = {}
        return cls(arrays)

    def __len__(self) -> int:
        """How many texts can be completed."""
        return len(self.texts)

    def entry(self, number: int) -> _Entry:
        """One completable text, with what it leads to."""
        return _Entry(KINDS[int(self.kind[number])], self.texts.text(number), self.targets.text(number),
                      self.langs[int(self.lang[number])], float(self.base[number]))

    def complete(self, prefix: str, limit: int = DEFAULT_LIMIT) -> list[Completion]:
        """The best completions of a prefix, best first, each entry once: texts where the whole
        prefix starts a word first, then (for several words) texts where every word starts one."""
        query = normalize_prefix(prefix)
        if not query:
            return []
        limit = max(1, min(limit, MAX_LIMIT))
        found: dict[int, Completion] = {}
        for number, offset in self._starting(query, limit):
            completion = self._completion(number, [(offset, query.rstrip(" "))])
            if completion is not None:
                found.setdefault(number, completion)
            if len(found) >= limit:
                return list(found.values())
        words = query.split()
        if len(words) > 1:
            for number, spans in self._all_words(words, set(found), limit - len(found)):
                completion = self._completion(number, spans)
                if completion is not None:
                    found.setdefault(number, completion)
        return list(found.values())[:limit]

    def _range(self, prefix: str) -> tuple[int, int]:
        key = prefix[:MAX_KEY_CHARS].encode("utf-8")
        lo = bisect.bisect_left(self.keys, key)
        return lo, bisect.bisect_right(self.keys, key + b"\xff", lo)

    def _starting(self, query: str, limit: int) -> list[tuple[int, int]]:
        """(entry, offset) of the keys that start with the query, best first, each entry once."""
        lo, hi = self._range(query)
        key = query[:MAX_KEY_CHARS]
        if hi - lo > SCAN_LIMIT and key in self.ranked:
            return self.ranked[key]
        order = np.lexsort((np.arange(lo, hi), -self.key_scores[lo:hi])) + lo
        chosen: dict[int, int] = {}
        for i in order.tolist():
            chosen.setdefault(int(self.refs[i]), int(self.offsets[i]))
            if len(chosen) >= limit * 2:  # a few spare: the full check of a long prefix may drop some
                break
        return list(chosen.items())

    def _all_words(self, words: list[str], skip: set[int], limit: int) -> list[tuple[int, list[tuple[int, str]]]]:
        """Entries in which every word starts a word (in any order), best first, with where each starts."""
        # Entries holding a word that starts with each typed word: set intersections, at C speed.
        pools = sorted((set(self.refs[lo:hi].tolist()) for lo, hi in (self._range(w) for w in words)), key=len)
        candidates = pools[0].difference(skip)
        for pool in pools[1:]:
            candidates &= pool
        base = self.base
        best = heapq.nsmallest(limit * 2, candidates, key=lambda n: (-base[n], n))
        found: list[tuple[float, int, list[tuple[int, str]]]] = []
        for number in best:
            words_of = self._words.get(number)
            if words_of is None:
                text = normalized(self.texts.text(number))
                words_of = self._words[number] = (text, list(word_starts(text)))
            text, starts = words_of
            spans = []
            for word in words:
                at = next((p for p in starts if text.startswith(word, p)), None)
                if at is None:  # cut keys: the word starts a word beyond MAX_KEY_CHARS
                    break
                spans.append((at, word))
            else:
                first = min(p for p, _ in spans)
                score = float(base[number]) + (START_BONUS if first == 0 else 0.0) - SCATTERED_PENALTY
                found.append((score, number, spans))
        found.sort(key=lambda item: (-item[0], item[1]))
        return [(number, spans) for _, number, spans in found[:limit]]

    def _completion(self, number: int, spans: list[tuple[int, str]]) -> Completion | None:
        """A completion with the typed parts marked in the text as the reader sees it."""
        entry = self.entry(number)
        text, origin = normalize(entry.text)
        marks = []
        for offset, typed in spans:
            if not typed or not text.startswith(typed, offset):  # keys are cut at MAX_KEY_CHARS
                return None
            end = offset + len(typed)
            marks.append((origin[offset], origin[end - 1] + 1))
        return Completion(entry.kind, entry.text, tuple(sorted(marks)), entry.target, entry.lang)
