"""Query trees and their evaluation: BM25F scores per article from Whoosh postings.

Whoosh's own matcher trees (an Or over six fields for every word, unions, spans)
cost tens of milliseconds per common word in Python. Here each word's weighted
BM25F scores over all fields are computed from posting arrays (search/postings.py)
once per index build and cached, and a query is plain dictionary arithmetic over
those: the same ranking as Whoosh's BM25F and Phrase queries, at a fraction of the
cost.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh.scoring import BM25F

from search.postings import POSITION_BITS, FloatArray, IntArray, PostingsReader, near_docs, phrase_starts
from search.schema import FIELD_WEIGHTS

PHRASE_FIELDS = ("title", "errors", "summary", "headings", "body")
CACHE_ENTRIES = 1_000_000  # article scores kept across queries (about 100 bytes each)


@dataclass(frozen=True)
class Term:
    """One index term in any text field."""

    term: str
    boost: float = 1.0


@dataclass(frozen=True)
class Phrase:
    """Index terms at consecutive positions in one field."""

    terms: tuple[str, ...]
    boost: float = 1.0


@dataclass(frozen=True)
class Any_:
    """Any child; scores add up."""

    children: tuple[Node, ...]
    boost: float = 1.0


@dataclass(frozen=True)
class All:
    """Every child; scores add up."""

    children: tuple[Node, ...]
    boost: float = 1.0


Node = Term | Phrase | Any_ | All
Scores = dict[int, float]


class Scorer:
    """Evaluates query trees against one searcher; keeps per-term scores between queries.

    Not thread-safe: hold the snapshot lock.
    """

    def __init__(self, searcher: Any, max_entries: int = CACHE_ENTRIES, shared_idf: bool = True) -> None:
        """`shared_idf`: one idf per term for every field, from its commonest field (BM25F as
        defined); False: Whoosh's idf per field, where a word common in bodies but rare in titles
        (结果, "result") made every short title holding it rank near the top of unrelated queries."""
        self.searcher = searcher
        self.shared_idf = shared_idf
        self._idf: dict[str, float] = {}
        self.max_entries = max_entries
        self.cache: OrderedDict[tuple[str, tuple[str, ...]], Scores] = OrderedDict()
        self.entries = 0
        self.postings = PostingsReader(searcher)
        self._field_lengths: dict[str, FloatArray] = {}
        weighting = searcher.weighting
        if not isinstance(weighting, BM25F):
            raise TypeError(f"the index must be searched with BM25F, not {type(weighting).__name__}")
        self.weighting = weighting

    def evaluate(self, node: Node, deadline: float = float("inf")) -> Scores:
        """Scores of every article the node matches (do not modify the result)."""
        self.postings.deadline = deadline
        return self._eval(node)

    def _eval(self, node: Node) -> Scores:
        key: tuple[str, tuple[str, ...]]
        if isinstance(node, Term):
            key = ("t", (node.term,))
            scores = self.cache.get(key)
            if scores is None:
                scores = self._store(key, self._term_scores(node.term))
            else:
                self.cache.move_to_end(key)
        elif isinstance(node, Phrase):
            key = ("p", node.terms)
            scores = self.cache.get(key)
            if scores is None:
                scores = self._store(key, self._phrase_scores(node.terms))
            else:
                self.cache.move_to_end(key)
        elif isinstance(node, Any_):
            scores = {}
            for child in node.children:
                for doc, score in self._eval(child).items():
                    scores[doc] = scores.get(doc, 0.0) + score
        else:
            parts = sorted((self._eval(child) for child in node.children), key=len)
            if not parts:
                return {}
            scores = dict(parts[0])
            for part in parts[1:]:
                scores = {doc: score + part[doc] for doc, score in scores.items() if doc in part}
        if node.boost != 1.0:
            boost = node.boost
            return {doc: score * boost for doc, score in scores.items()}
        return scores

    def _store(self, key: tuple[str, tuple[str, ...]], scores: Scores) -> Scores:
        self.cache[key] = scores
        self.entries += len(scores) + 1
        while self.entries > self.max_entries and len(self.cache) > 1:
            _, dropped = self.cache.popitem(last=False)
            self.entries -= len(dropped) + 1
        return scores

    def _lengths(self, fieldname: str) -> FloatArray:
        """Every article's length of one field (as Whoosh stores it), read once per build."""
        found = self._field_lengths.get(fieldname)
        if found is None:
            reader = self.searcher.reader()
            found = np.array([reader.doc_field_length(d, fieldname) or 0 for d in range(reader.doc_count_all())],
                             dtype=np.float64)
            self._field_lengths[fieldname] = found
        return found

    def _bm25(self, fieldname: str, term: str, docs: IntArray, weights: FloatArray) -> FloatArray:
        """Whoosh's BM25F score of a term in one field for each of `docs`, given its frequencies."""
        weighting = self.weighting
        b = weighting._field_B.get(fieldname, weighting.B)
        k1 = weighting.K1
        avgfl = self.searcher.avg_field_length(fieldname) or 1
        scale = (self._shared_idf(term) if self.shared_idf else self.searcher.idf(fieldname, term)) * (k1 + 1)
        lengths = self._lengths(fieldname)[docs]
        result: FloatArray = scale * weights / (weights + k1 * (1 - b) + k1 * b / avgfl * lengths)
        return result

    def _shared_idf(self, term: str) -> float:
        """Whoosh's idf formula over the articles holding the term in its commonest field."""
        found = self._idf.get(term)
        if found is None:
            reader = self.searcher.reader()
            frequency = max(reader.doc_frequency(name, term) for name in FIELD_WEIGHTS)
            found = self._idf[term] = math.log(reader.doc_count_all() / (frequency + 1)) + 1
        return found

    def _term_scores(self, term: str) -> Scores:
        """BM25F of one term over every text field, each field's score times its weight."""
        docs: list[IntArray] = []
        scores: list[FloatArray] = []
        for fieldname, weight in FIELD_WEIGHTS.items():
            postings = self.postings.get(fieldname, term)
            if len(postings.docs):
                docs.append(postings.docs)
                scores.append(weight * self._bm25(fieldname, term, postings.docs, postings.weights))
        return _summed(docs, scores)

    def _phrase_scores(self, terms: tuple[str, ...]) -> Scores:
        """Articles with the terms at consecutive positions in a phrase field, scored as Whoosh's
        Phrase query scores them: each word's BM25F in that field, summed, times the field's weight."""
        docs: list[IntArray] = []
        scores: list[FloatArray] = []
        for fieldname in PHRASE_FIELDS:
            if not all(self.postings.has(fieldname, term) for term in terms):
                continue  # checked first: reading positions of the other words would be wasted
            postings = [self.postings.get(fieldname, term, positions=True) for term in terms]
            found = np.unique(phrase_starts(postings) >> POSITION_BITS)
            if not len(found):
                continue
            total = np.zeros(len(found))
            for term, p in zip(terms, postings, strict=True):
                total += self._bm25(fieldname, term, found, p.weights_of(found))
            docs.append(found)
            scores.append(FIELD_WEIGHTS[fieldname] * total)
        return _summed(docs, scores)

    def close_pairs(self, pairs: Sequence[tuple[str, str]], docs: Iterable[int], slop: int) -> dict[int, int]:
        """For each of `docs`, how many word pairs stand within `slop` positions in its title or body."""
        wanted = np.array(sorted(docs), dtype=np.int64)
        found: dict[int, int] = {}
        for a, b in pairs:
            close: set[int] = set()
            for fieldname in PROXIMITY_FIELDS:
                if not (self.postings.has(fieldname, a) and self.postings.has(fieldname, b)):
                    continue
                close.update(near_docs(self.postings.get(fieldname, a, positions=True),
                                       self.postings.get(fieldname, b, positions=True), wanted, slop).tolist())
            for doc in close:
                found[doc] = found.get(doc, 0) + 1
        return found

    def verbatim_runs(self, terms: Sequence[str], docs: Iterable[int]) -> dict[int, int]:
        """For each of `docs`, the longest run of consecutive `terms` standing at consecutive
        positions in one of its VERBATIM_FIELDS (a pasted error message or command line)."""
        wanted = np.array(sorted(docs), dtype=np.int64)
        if not len(wanted) or len(terms) < 2:
            return {}
        low, high = wanted << POSITION_BITS, (wanted + 1) << POSITION_BITS
        best = np.zeros(len(wanted), dtype=np.int64)
        for fieldname in VERBATIM_FIELDS:
            before_keys, before_lengths = _EMPTY_KEYS, _EMPTY_KEYS
            for term in terms:
                if not self.postings.has(fieldname, term):
                    before_keys, before_lengths = _EMPTY_KEYS, _EMPTY_KEYS
                    continue
                keys = self.postings.get(fieldname, term, positions=True).keys
                assert keys is not None
                starts, ends = np.searchsorted(keys, low), np.searchsorted(keys, high)
                counts = ends - starts
                total = int(counts.sum())
                if not total:
                    before_keys, before_lengths = _EMPTY_KEYS, _EMPTY_KEYS
                    continue
                # Every occurrence in `wanted`: the slices keys[starts[i]:ends[i]], joined.
                offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
                found = keys[offsets]
                lengths = np.ones(total, dtype=np.int64)
                if len(before_keys):
                    at = np.minimum(np.searchsorted(before_keys, found - 1), len(before_keys) - 1)
                    follows = before_keys[at] == found - 1
                    lengths[follows] = before_lengths[at[follows]] + 1
                np.maximum.at(best, np.searchsorted(wanted, found >> POSITION_BITS), lengths)
                before_keys, before_lengths = found, lengths
        return {int(d): int(n) for d, n in zip(wanted.tolist(), best.tolist(), strict=True) if n > 1}


PROXIMITY_FIELDS = ("title", "body")
VERBATIM_FIELDS = ("title", "errors", "body")
_EMPTY_KEYS: IntArray = np.zeros(0, dtype=np.int64)


def _summed(docs: list[IntArray], scores: list[FloatArray]) -> Scores:
    """Per-field scores added up per article, as a dict."""
    if not docs:
        return {}
    if len(docs) == 1:
        return dict(zip(docs[0].tolist(), scores[0].tolist(), strict=True))
    every = np.concatenate(docs)
    unique, where = np.unique(every, return_inverse=True)
    totals = np.bincount(where, weights=np.concatenate(scores), minlength=len(unique))
    return dict(zip(unique.tolist(), totals.tolist(), strict=True))
