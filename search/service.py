"""SearchService: the one object the web layer and the CLI call to search.

    service = SearchService(index_dir)
    result = service.search(SearchRequest("vpn 809", filters={"lang": ["en"]}))

Every method reads the live build through an IndexHandle, so a newly swapped
build is picked up on the next call.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from whoosh import query as wq
from whoosh.collectors import Collector, TimeLimit, TimeLimitCollector, TopCollector

from search.analysis import QUERY_STOP_WORDS, Piece
from search.errors import QueryError
from search.highlight import match_pattern, snippet
from search.index import IndexHandle, Snapshot, open_index
from search.query import MAX_UNITS, CompiledQuery, ParsedQuery, QueryCompiler, filter_query, parse_query
from search.results import (
    MAX_LIMIT,
    ArticleView,
    Facet,
    FacetValue,
    Hit,
    SearchRequest,
    SearchResult,
)
from search.schema import FACET_FIELDS, FIELD_WEIGHTS, FILTER_FIELDS

TIME_LIMIT_SECONDS = 0.8
RERANK_DEPTH = 100  # state and usage boosts reorder this many top hits
MIN_ALL_WORDS_HITS = 3  # fewer hits with all words: fall back to any word
STRICT_UNITS = 2  # queries of up to this many words require all of them (unless that finds too little)
ALL_WORDS_BONUS = 0.5  # in ranked "any word" mode, articles with every word score this much extra
MAX_PAGE_DEPTH = 1000
MAX_FACET_VALUES = 30
TICKET_TERMS = 24


class _BoundedCollector(TimeLimitCollector):  # type: ignore[misc]
    """Collects only allowed documents and stops at the time limit, in any thread.

    (Wrapping Whoosh's FilterCollector in a TimeLimitCollector silently drops the filter.)
    """

    def __init__(self, child: Collector, allow: set[int], timelimit: float) -> None:
        super().__init__(child, timelimit, use_alarm=False)  # SIGALRM works only in the main thread
        self.allow = allow

    def collect_matches(self) -> None:
        child, allow = self.child, self.allow
        for sub_docnum in child.matches():
            if self.timedout:
                raise TimeLimit
            if child.offset + sub_docnum in allow:
                child.collect(sub_docnum)


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


class SearchService:
    """Queries, suggestions and article lookups against the live index build."""

    def __init__(self, index: IndexHandle | Path | str) -> None:
        self.handle = index if isinstance(index, IndexHandle) else open_index(index)
        self._compilers: dict[int, QueryCompiler] = {}

    # -- plumbing ----------------------------------------------------------------------
    def _compiler(self, snap: Snapshot) -> QueryCompiler:
        compiler = self._compilers.get(id(snap))
        if compiler is None:
            reader = snap.searcher.reader()

            def has_term(term: str) -> bool:
                return any((name, term) in reader for name in FIELD_WEIGHTS)

            def expand_prefix(name: str, prefix: str) -> Iterable[str]:
                for term in itertools.islice(reader.expand_prefix(name, prefix), 200):
                    yield term.decode("utf-8") if isinstance(term, bytes) else term

            def correct(word: str) -> str | None:
                return snap.corrector.correct(word)

            compiler = QueryCompiler(snap.segmenter, snap.synonyms, has_term, expand_prefix, correct)
            self._compilers = {id(snap): compiler}  # forget compilers of older builds
        return compiler

    @staticmethod
    def _docs(snap: Snapshot, query: wq.Query) -> set[int]:
        return set(snap.searcher.docs_for_query(query))

    def _hit(self, snap: Snapshot, docnum: int, score: float, pattern: re.Pattern[str] | None) -> Hit:
        stored = snap.searcher.stored_fields(docnum)
        meta = stored.get("meta") or {}
        text = stored.get("body") or ""
        return Hit(
            id=stored["id"], title=stored.get("title", ""), path=meta.get("path", ""), score=score,
            snippet=snippet(text, pattern, fallback=meta.get("summary", "")) if pattern is not None or text else "",
            summary=meta.get("summary", ""), categories=_tuple(meta.get("categories")), tags=_tuple(meta.get("tags")),
            products=_tuple(meta.get("products")), type=meta.get("type", ""), lang=meta.get("lang", ""),
            state=meta.get("state", ""),
        )

    def _rank(self, snap: Snapshot, query: wq.Query | None, docs: set[int],
              depth: int) -> tuple[list[tuple[float, int]], bool]:
        """(score, docnum) best first, with state and usage boosts; True if the time limit hit."""
        if query is None:  # filters only: a stable order
            return [(0.0, d) for d in sorted(docs)[:depth]], False
        searcher = snap.searcher
        collector = _BoundedCollector(TopCollector(limit=depth), docs, TIME_LIMIT_SECONDS)
        partial = False
        try:
            searcher.search_with_collector(query, collector)
        except TimeLimit:
            partial = True
        results = collector.results()
        ranked = [(score * snap.factor(docnum), docnum) for score, docnum in results.top_n]
        ranked.sort(key=lambda pair: (-pair[0], pair[1]))
        return ranked, partial

    @staticmethod
    def _facets(snap: Snapshot, docs: Iterable[int]) -> tuple[Facet, ...]:
        counts: dict[str, Counter[str]] = {name: Counter() for name in FACET_FIELDS}
        facets = snap.doc_facets
        for docnum in docs:
            for name, value in facets.get(docnum, ()):
                counts[name][value] += 1
        return tuple(Facet(name, tuple(FacetValue(v, c) for v, c in sorted(counts[name].items(),
                                                                          key=lambda vc: (-vc[1], vc[0]))
                                       [:MAX_FACET_VALUES]))
                     for name in FACET_FIELDS)

    @staticmethod
    def _mask(parsed: ParsedQuery, compiled: CompiledQuery | None) -> wq.Query | None:
        parts = [compiled.exclude] if compiled and compiled.exclude is not None else []
        if "state" not in parsed.filters:
            parts.append(wq.Term("state", "archived"))  # archived only when asked for
        return wq.Or(parts) if parts else None

    # -- public API ----------------------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        """Run one search: hits for the page asked for, facet counts over all matches."""
        started = time.perf_counter()
        parsed = parse_query(request.query)
        for name, values in request.filters.items():
            if name not in FILTER_FIELDS:
                raise QueryError(f"unknown filter {name!r}; use one of {', '.join(FILTER_FIELDS)}")
            for value in values:
                if value:
                    parsed.filters.setdefault(FILTER_FIELDS[name], []).append(value.strip().lower())
        limit = max(1, min(request.limit, MAX_LIMIT))
        page = max(1, request.page)
        if page * limit > MAX_PAGE_DEPTH:
            raise QueryError(f"results beyond the first {MAX_PAGE_DEPTH} cannot be paged to; refine the query")
        snap = self.handle.snapshot()
        with snap.lock:
            compiled = self._compiler(snap).compile(parsed)
            docs = self._docs(snap, compiled.all_words) if compiled.all_words is not None else \
                set(snap.doc_ids)
            filters = filter_query(parsed.filters)
            if filters is not None:
                docs &= self._docs(snap, filters)
            mask = self._mask(parsed, compiled)
            if mask is not None:
                docs -= self._docs(snap, mask)
            query = compiled.all_words
            if compiled.any_word is not None and (len(docs) < MIN_ALL_WORDS_HITS or compiled.units > STRICT_UNITS):
                wider = self._docs(snap, compiled.any_word)
                if filters is not None:
                    wider &= self._docs(snap, filters)
                if mask is not None:
                    wider -= self._docs(snap, mask)
                if len(wider) > len(docs):
                    # Hits with all words still come first: their score includes every word.
                    query = wq.Or([compiled.all_words.with_boost(ALL_WORDS_BONUS), compiled.any_word])
                    docs = wider
            ranked, partial = self._rank(snap, query, docs, max(RERANK_DEPTH, page * limit))
            pattern = match_pattern(compiled.highlight) if request.highlight else None
            window = ranked[(page - 1) * limit: page * limit]
            hits = tuple(self._hit(snap, docnum, score, pattern) for score, docnum in window)
            facets = self._facets(snap, docs) if request.facets else ()
        did_you_mean = _did_you_mean(request.query, compiled.corrections)
        return SearchResult(request.query, len(docs), (time.perf_counter() - started) * 1000, hits, facets,
                            did_you_mean, page, limit, partial)

    def more_like_this(self, article_id: str, limit: int = 5) -> tuple[Hit, ...]:
        """Articles similar to one article (by its most distinctive words)."""
        snap = self.handle.snapshot()
        with snap.lock:
            searcher = snap.searcher
            docnum = searcher.document_number(id=article_id)
            if docnum is None:
                return ()
            compiler = self._compiler(snap)
            terms = [t for t, _ in searcher.key_terms([docnum], "body", numterms=15)]
            stored = searcher.stored_fields(docnum)
            title = [p.term for p in snap.segmenter.pieces(stored.get("title", ""), subwords=False)
                     if p.surface not in QUERY_STOP_WORDS]
            subqueries = [compiler.term_query(t, 1.5) for t in dict.fromkeys(title)]
            subqueries += [compiler.term_query(t) for t in terms if t not in title]
            if not subqueries:
                return ()
            docs = self._docs(snap, wq.Or(subqueries)) - {docnum} - self._docs(snap, wq.Term("state", "archived"))
            ranked, _ = self._rank(snap, wq.Or(subqueries), docs, limit)
            return tuple(self._hit(snap, d, s, None) for s, d in ranked[:limit])

    def suggest_for_ticket(self, subject: str, description: str = "", category: str | None = None,
                           limit: int = 5) -> SearchResult:
        """The best articles for a ticket: its distinctive words, subject words counting double,
        within the ticket category (and its subcategories) when that finds anything."""
        started = time.perf_counter()
        text = f"{subject}\n{description}"
        if len(text) > 20_000:
            text = text[:20_000]
        snap = self.handle.snapshot()
        with snap.lock:
            compiler = self._compiler(snap)
            reader = snap.searcher.reader()
            total_docs = max(1, reader.doc_count())
            weighted: dict[str, tuple[float, Piece]] = {}
            for boost, part in ((2.0, subject), (1.0, description)):
                for piece in snap.segmenter.pieces(part[:20_000], subwords=False):
                    if piece.surface in QUERY_STOP_WORDS or (len(piece.surface) < 2 and piece.kind != "cjk"):
                        continue
                    df = sum(reader.doc_frequency(f, piece.term) for f in ("title", "body", "errors"))
                    if df == 0 and not piece.parts:
                        continue
                    idf = math.log(1 + total_docs / (1 + df))
                    weight = boost * idf * (1.5 if piece.kind == "ident" else 1.0)
                    if piece.term not in weighted or weighted[piece.term][0] < weight:
                        weighted[piece.term] = (weight, piece)
            best = sorted(weighted.values(), key=lambda wp: -wp[0])[:min(TICKET_TERMS, MAX_UNITS)]
            if not best:
                return SearchResult(subject, 0, (time.perf_counter() - started) * 1000, ())
            top = best[0][0]
            query = wq.Or([compiler.piece_query(piece, weight / top) for weight, piece in best])
            docs = self._docs(snap, query) - self._docs(snap, wq.Term("state", "archived"))
            if category:
                within = docs & self._docs(snap, wq.Term("category", category.lower()))
                docs = within or docs
            ranked, partial = self._rank(snap, query, docs, max(RERANK_DEPTH, limit))
            pattern = match_pattern([piece.surface for _, piece in best])
            hits = tuple(self._hit(snap, d, s, pattern) for s, d in ranked[:limit])
        return SearchResult(subject, len(docs), (time.perf_counter() - started) * 1000, hits, (), None, 1, limit,
                            partial)

    def get_article(self, article_id: str) -> ArticleView | None:
        """An article's stored metadata and rendered HTML from the live build."""
        snap = self.handle.snapshot()
        with snap.lock:
            stored = snap.searcher.document(id=article_id)
        if stored is None:
            return None
        meta = stored.get("meta") or {}
        return ArticleView(
            id=stored["id"], title=stored.get("title", ""), path=meta.get("path", ""),
            summary=meta.get("summary", ""), type=meta.get("type", ""), state=meta.get("state", ""),
            lang=meta.get("lang", ""), categories=_tuple(meta.get("categories")), tags=_tuple(meta.get("tags")),
            products=_tuple(meta.get("products")), errors=_tuple(meta.get("errors")), html=stored.get("html", ""),
            toc=tuple(meta.get("toc") or ()), translation_of=meta.get("translation_of"), owner=meta.get("owner", ""),
            reviewed=meta.get("reviewed"), review_due=meta.get("review_due"), aliases=_tuple(meta.get("aliases")),
            related=_tuple(meta.get("related")),
        )

    def facets(self, filters: dict[str, Sequence[str]] | None = None) -> tuple[Facet, ...]:
        """Facet counts over every visible article (for browse pages)."""
        return self.search(SearchRequest("", filters=filters or {}, limit=1, highlight=False)).facets

    def manifest(self) -> dict[str, Any]:
        """The live build's manifest (git commit, article count, build time, errors)."""
        return dict(self.handle.snapshot().manifest)


def _did_you_mean(raw: str, corrections: dict[str, str]) -> str | None:
    if not corrections:
        return None
    fixed = raw
    for wrong, right in corrections.items():
        fixed = re.sub(rf"(?<![A-Za-z0-9]){re.escape(wrong)}(?![A-Za-z0-9])", right, fixed, flags=re.IGNORECASE)
    return fixed if fixed != raw else None
