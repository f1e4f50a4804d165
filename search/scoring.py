"""Query trees and their evaluation: BM25F scores per article from Whoosh postings.

Whoosh's own matcher trees (an Or over six fields for every word, unions, spans)
cost tens of milliseconds per common word in Python. Here each word's weighted
BM25F scores over all fields are computed once per index build and cached, and a
query is plain dictionary arithmetic over those: the same ranking, at a fraction
of the cost for the words people search for again and again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.scoring import BM25F

from search.schema import FIELD_WEIGHTS

PHRASE_FIELDS = ("title", "errors", "summary", "headings", "body")
CACHE_ENTRIES = 1_000_000  # article scores kept across queries (about 100 bytes each)
_CHECK_EVERY = 1024


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


class QueryTimeout(Exception):
    """Evaluation ran past its deadline."""


class Scorer:
    """Evaluates query trees against one searcher; keeps per-term scores between queries.

    Not thread-safe: hold the snapshot lock.
    """

    def __init__(self, searcher: Any, max_entries: int = CACHE_ENTRIES) -> None:
        self.searcher = searcher
        self.context = searcher.context()
        self.max_entries = max_entries
        self.cache: OrderedDict[tuple[str, tuple[str, ...]], Scores] = OrderedDict()
        self.entries = 0
        self.deadline = float("inf")
        self._field_lengths: dict[str, list[float]] = {}

    def evaluate(self, node: Node, deadline: float = float("inf")) -> Scores:
        """Scores of every article the node matches (do not modify the result)."""
        self.deadline = deadline
        return self._eval(node)

    def _eval(self, node: Node) -> Scores:
        if isinstance(node, Term):
            key = ("t", (node.term,))
            scores = self.cache.get(key)
            if scores is None:
                scores = self._store(key, self._term_scores(node.term))
            else:
                self.cache.move_to_end(key)
        elif isinstance(node, Phrase):
            scores = self._cached("p", node.terms, [(wq.Phrase(f, list(node.terms)), FIELD_WEIGHTS[f])
                                                    for f in PHRASE_FIELDS])
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

    def _cached(self, kind: str, terms: tuple[str, ...], queries: Iterable[tuple[wq.Query, float]]) -> Scores:
        key = (kind, terms)
        found = self.cache.get(key)
        if found is not None:
            self.cache.move_to_end(key)
            return found
        scores: Scores = {}
        checked = 0
        for query, weight in queries:
            for leaf, offset in self.searcher.leaf_searchers():
                matcher = query.matcher(leaf, self.context)
                while matcher.is_active():
                    doc = offset + matcher.id()
                    scores[doc] = scores.get(doc, 0.0) + weight * matcher.score()
                    matcher.next()
                    checked += 1
                    if checked % _CHECK_EVERY == 0 and time.perf_counter() > self.deadline:
                        raise QueryTimeout
        return self._store(key, scores)

    def _store(self, key: tuple[str, tuple[str, ...]], scores: Scores) -> Scores:
        self.cache[key] = scores
        self.entries += len(scores) + 1
        while self.entries > self.max_entries and len(self.cache) > 1:
            _, dropped = self.cache.popitem(last=False)
            self.entries -= len(dropped) + 1
        return scores

    def _lengths(self, fieldname: str) -> list[float]:
        """Every article's length of one field (as Whoosh stores it), read once per build."""
        found = self._field_lengths.get(fieldname)
        if found is None:
            reader = self.searcher.reader()
            found = [float(reader.doc_field_length(d, fieldname) or 0) for d in range(reader.doc_count_all())]
            self._field_lengths[fieldname] = found
        return found

    def _term_scores(self, term: str) -> Scores:
        """BM25F of one term over every text field, as Whoosh's BM25F scores it, but reading
        posting blocks directly (Whoosh-Reloaded 2.7.5's W3 codec; other matchers take the slow path)."""
        searcher = self.searcher
        weighting = searcher.weighting
        scores: Scores = {}
        checked = 0
        for fieldname, weight in FIELD_WEIGHTS.items():
            if (fieldname, term) not in searcher.reader():
                continue
            b = weighting._field_B.get(fieldname, weighting.B) if isinstance(weighting, BM25F) else None
            if b is None:
                return self._slow_scores(term)
            k1 = weighting.K1
            idf = searcher.idf(fieldname, term)
            avgfl = searcher.avg_field_length(fieldname) or 1
            scale = weight * idf * (k1 + 1)
            base, per_length = k1 * (1 - b), k1 * b / avgfl
            lengths = self._lengths(fieldname)
            for leaf, offset in searcher.leaf_searchers():
                reader = leaf.reader()
                if (fieldname, term) not in reader:
                    continue
                matcher = reader.postings(fieldname, term)
                deleted: Any = ()
                if isinstance(matcher, FilterMatcher) and matcher._exclude:
                    deleted, matcher = matcher._ids, matcher.child
                if not isinstance(matcher, W3LeafMatcher):
                    return self._slow_scores(term)
                while matcher.is_active():
                    if matcher._ids is None:
                        matcher._read_ids()
                    if matcher._weights is None:
                        matcher._read_weights()
                    for doc, tf in zip(matcher._ids, matcher._weights, strict=False):
                        if deleted and doc in deleted:
                            continue
                        doc += offset
                        scores[doc] = scores.get(doc, 0.0) + scale * tf / (tf + base + per_length * lengths[doc])
                    checked += matcher._blocklength
                    matcher._next_block()
                    if checked > _CHECK_EVERY and time.perf_counter() > self.deadline:
                        raise QueryTimeout
        return scores

    def _slow_scores(self, term: str) -> Scores:
        scores: Scores = {}
        for query, weight in [(wq.Term(f, term), w) for f, w in FIELD_WEIGHTS.items()]:
            for leaf, offset in self.searcher.leaf_searchers():
                matcher = query.matcher(leaf, self.context)
                while matcher.is_active():
                    doc = offset + matcher.id()
                    scores[doc] = scores.get(doc, 0.0) + weight * matcher.score()
                    matcher.next()
        return scores

    def close_pairs(self, pairs: Sequence[tuple[str, str]], docs: Iterable[int], slop: int) -> dict[int, int]:
        """For each of `docs`, how many word pairs stand within `slop` positions in its title or body.

        Reads positions only for the given articles (the top of a ranking), not the whole index.
        """
        wanted = sorted(docs)
        found: dict[int, int] = {}
        for leaf, offset in self.searcher.leaf_searchers():
            reader = leaf.reader()
            local = [d - offset for d in wanted if offset <= d < offset + reader.doc_count_all()]
            if not local:
                continue
            for a, b in pairs:
                close: set[int] = set()
                for fieldname in PROXIMITY_FIELDS:
                    first = _positions(reader, fieldname, a, local)
                    second = _positions(reader, fieldname, b, local) if first else {}
                    close.update(doc for doc, where in first.items()
                                 if doc in second and _within(where, second[doc], slop))
                for doc in close:
                    found[doc + offset] = found.get(doc + offset, 0) + 1
        return found

    def count_terms(self, node: Node) -> int:
        """How many term and phrase lookups a tree needs (to refuse absurd queries)."""
        if isinstance(node, Term | Phrase):
            return 1
        return sum(self.count_terms(child) for child in node.children)


PROXIMITY_FIELDS = ("title", "body")


def _positions(reader: Any, fieldname: str, term: str, docs: list[int]) -> dict[int, list[int]]:
    """Positions of a term in each of the (sorted, segment-local) docs that contain it."""
    if (fieldname, term) not in reader:
        return {}
    matcher = reader.postings(fieldname, term)
    found: dict[int, list[int]] = {}
    for doc in docs:
        if matcher.is_active() and matcher.id() < doc:
            matcher.skip_to(doc)
        if not matcher.is_active():
            break
        if matcher.id() == doc:
            found[doc] = matcher.value_as("positions")
    return found


def _within(first: list[int], second: list[int], slop: int) -> bool:
    """Whether any position in one sorted list is within `slop` of one in the other."""
    i = j = 0
    while i < len(first) and j < len(second):
        if abs(first[i] - second[j]) <= slop:
            return True
        if first[i] < second[j]:
            i += 1
        else:
            j += 1
    return False
