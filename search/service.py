"""SearchService: the one object the web layer and the CLI call to search.

    service = SearchService(index_dir)
    result = service.search(SearchRequest("vpn 809", filters={"lang": ["en"]}))

Every method reads the live build through an IndexHandle, so a newly swapped
build is picked up on the next call.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh import index as whoosh_index

from kb.ids import lookup_key
from search.analysis import QUERY_STOP_WORDS, Piece
from search.errors import QueryError
from search.highlight import clean, match_pattern, snippet_at
from search.index import IndexHandle, Snapshot, open_index
from search.postings import QueryTimeout
from search.query import CompiledQuery, ParsedQuery, QueryCompiler, cut_query, filter_query, parse_query
from search.results import (
    MAX_LIMIT,
    ArticleView,
    Facet,
    FacetValue,
    Hit,
    SearchRequest,
    SearchResult,
    Section,
    Translation,
)
from search.schema import FACET_FIELDS, FIELD_WEIGHTS, FILTER_FIELDS
from search.scoring import Any_, Scorer, Term
from search.semantic import ENCODER, TABLE_CACHE, PassageHit, PassageIndex
from search.spelling import HomophoneCorrector, SpellingCorrector
from search.user_words import UserWords
from search.warming import PAUSE_RATIO, WarmReport, warm

log = logging.getLogger(__name__)

TIME_LIMIT_SECONDS = 0.8
MIN_ALL_WORDS_HITS = 3  # fewer hits with all words: fall back to any word
STRICT_UNITS = 2  # queries of up to this many words require all of them (unless that finds too little)
ALL_WORDS_BONUS = 0.5  # in "any word" mode, articles with every word score this much more
# Among the best-scored articles, each pair of neighbouring query words standing within
# PROXIMITY_SLOP positions multiplies the score by 1 + PROXIMITY_BONUS.
PROXIMITY_CANDIDATES = 100
PROXIMITY_SLOP = 4
PROXIMITY_BONUS = 0.05
# Among the same candidates, an article holding a run of VERBATIM_MIN or more of the query's
# terms in a row (a pasted error message or command line) has its score multiplied by
# (1 + VERBATIM_BONUS) for each term of its longest run beyond VERBATIM_MIN - 1.
VERBATIM_MIN = 3
VERBATIM_BONUS = 0.25
NO_WORDS = "The query has no searchable words: type a word, an error message or a code."
# Semantic retrieval (search/semantic.py) blended with word matching: each article's score is
# its word-matching score over the best one's, plus SEMANTIC_WEIGHT times its best passage's
# similarity above SIMILARITY_FLOOR over the best article's (tuned on the dev sets' tuning half).
SEMANTIC_CANDIDATES = 100
SEMANTIC_QUERY_CHARS = 300  # of a long pasted query, the start (its message) is encoded; cost grows with length
SEMANTIC_WEIGHT = 0.5
SIMILARITY_FLOOR = 0.25
MIN_SIMILARITY_SPAN = 0.15  # weak semantic evidence (best similarity barely above the floor) is not inflated
MIN_COVERAGE = 0.2
COVERAGE_POWER = 1.0
OTHER_LANGUAGE = 0.9  # articles not in the query's language: the query's language first
_CJK = re.compile(r"[\u3400-\u9fff]")
MAX_PAGE_DEPTH = 1000
MAX_FACET_VALUES = 30
TICKET_TERMS = 24


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


@dataclass
class _Tools:
    """Per-build helpers, rebuilt when a new build is swapped in."""

    snapshot_id: int
    compiler: QueryCompiler
    scorer: Scorer
    filters: dict[str, frozenset[int]] = field(default_factory=dict)
    facets: dict[str, tuple[list[str], npt.NDArray[np.bool_]]] = field(default_factory=dict)
    factors: tuple[object, npt.NDArray[np.float64]] | None = None
    passages: PassageIndex | None = None  # the build's passage vectors, if it has them
    corrector: SpellingCorrector | None = None  # built in the background; None until then
    homophones: HomophoneCorrector | None = None  # likewise
    query_vector: npt.NDArray[np.float32] | None = None  # the last query's (used under the snapshot lock)
    translation_keys: dict[int, tuple[str, Translation]] = field(default_factory=dict)  # docnum -> its group
    docnums: dict[str, int] = field(default_factory=dict)  # article id -> docnum

    def facet_matrix(self, snap: Snapshot, name: str) -> tuple[list[str], npt.NDArray[np.bool_]]:
        """A facet's values and which articles hold each (a row per value), to count with one sum."""
        found = self.facets.get(name)
        if found is None:
            by_value = snap.facet_docs.get(name, {})
            values = sorted(by_value)
            members = np.zeros((len(values), snap.searcher.reader().doc_count_all()), dtype=bool)
            for row, value in enumerate(values):
                members[row, list(by_value[value])] = True
            found = self.facets[name] = (values, members)
        return found

    def factor_array(self, snap: Snapshot) -> npt.NDArray[np.float64]:
        """Every article's state and usage multiplier (rebuilt when the usage boosts change)."""
        factors = snap.factors
        if self.factors is None or self.factors[0] is not factors:
            dense = np.ones(snap.searcher.reader().doc_count_all())
            if factors:
                dense[list(factors)] = list(factors.values())
            self.factors = (factors, dense)
        return self.factors[1]


# Article scores kept across queries, per process: each entry is a Python dict item (~100 bytes),
# so 300,000 take about 30 MB; with the postings cache (search.postings.CACHE_BYTES) and the
# spelling corrector this keeps one serving process near 200 MB at 10,000 real-text articles
# (bench/bench_memory.py). A word not cached costs one vectorised pass over its postings.
SCORE_CACHE_ENTRIES = 300_000


class SearchService:
    """Queries, suggestions and article lookups against the live index build."""

    def __init__(self, index: IndexHandle | Path | str, warm_terms: int = 0, semantic: bool = True,
                 wait_for_encoder: bool = False, share_encoder: bool = False) -> None:
        """`warm_terms`: read that many of the most frequent words' postings in a background
        thread whenever a build is opened (search/warming.py); 0 reads them on first use.
        `semantic`: blend in the build's passage vectors, once the encoder is loaded: in the
        background (a site answers lexically meanwhile) or, with `wait_for_encoder`, before the
        first query (the CLI, whose answers must not depend on timing); the spelling correctors
        likewise. `share_encoder`: keep the
        encoder's embedding table as a file in the index folder's cache, memory-mapped, so that
        the site's worker processes share one copy."""
        self.handle = index if isinstance(index, IndexHandle) else open_index(index)
        self.user_words = UserWords(self.handle.index_dir)
        self.warm_terms = warm_terms
        self.semantic = semantic
        self.wait_for_encoder = wait_for_encoder
        self.share_encoder = share_encoder
        self.last_warm: WarmReport | None = None
        self._tools: _Tools | None = None

    # -- plumbing ----------------------------------------------------------------------
    def _tools_for(self, snap: Snapshot) -> _Tools:
        tools = self._tools
        if tools is None or tools.snapshot_id != id(snap):
            reader = snap.searcher.reader()

            def has_term(term: str) -> bool:
                return any((name, term) in reader for name in FIELD_WEIGHTS)

            def expand_prefix(name: str, prefix: str) -> Iterable[str]:
                for term in itertools.islice(reader.expand_prefix(name, prefix), 200):
                    yield term.decode("utf-8") if isinstance(term, bytes) else term

            def correct(word: str) -> str | None:
                found = built.corrector
                return found.correct(word) if found is not None else None

            def frequency(term: str) -> int:
                return max(int(reader.doc_frequency(name, term)) for name in ("title", "body"))

            compiler = QueryCompiler(snap.segmenter, snap.synonyms, has_term, expand_prefix, correct, frequency)
            tools = built = _Tools(id(snap), compiler, Scorer(snap.searcher, SCORE_CACHE_ENTRIES))

            def homophone(word: str) -> str | None:
                found = built.homophones
                return found.correct(word) if found is not None else None

            compiler.homophone = homophone
            if self.wait_for_encoder:
                self._build_correctors(snap, tools)
            else:  # up to a few seconds on a big index: never in a request, nor under its lock
                threading.Thread(target=self._build_correctors, args=(snap, tools), name="kb-spelling",
                                 daemon=True).start()
            if self.semantic:
                tools.passages = PassageIndex.open(snap.build_dir)
                if tools.passages is not None:
                    tools.docnums = {article: docnum for docnum, article in snap.doc_ids.items()}
                    if self.share_encoder and ENCODER.table_dir is None:
                        ENCODER.table_dir = snap.build_dir.parent.parent / TABLE_CACHE
                    if self.wait_for_encoder:
                        ENCODER.load()
                    else:
                        ENCODER.load_in_background()
            self._tools = tools
            if self.warm_terms > 0:
                threading.Thread(target=self._warm, args=(snap, tools), name="kb-warm", daemon=True).start()
        return tools

    @staticmethod
    def _build_correctors(snap: Snapshot, tools: _Tools) -> None:
        """The build's spelling and homophone correctors; queries correct nothing until they are set."""
        try:
            tools.corrector = snap.corrector
            tools.homophones = _homophones(snap)
        except Exception:  # an optional correction: a failure must not take the process down
            log.exception("building the spelling correctors of %s failed", snap.build_dir.name)

    def _warm(self, snap: Snapshot, tools: _Tools, pause_ratio: float = PAUSE_RATIO) -> None:
        try:
            self.last_warm = warm(snap, tools.scorer, self.warm_terms, lambda: self._tools is tools, pause_ratio)
        except Exception:  # warming is an optimisation: a failure must not take the process down
            log.exception("warming index build %s failed", snap.build_dir.name)

    def open(self) -> None:
        """Open the live build now (and start warming it) rather than on the first query."""
        snap = self.handle.snapshot()
        with snap.lock:
            self._tools_for(snap)

    def open_warmed(self) -> None:
        """Open the live build and warm it in this thread, at full speed (nothing is serving yet:
        a server before it accepts, gunicorn's master before it forks)."""
        snap = self.handle.snapshot()
        with snap.lock:
            known = self._tools is not None and self._tools.snapshot_id == id(snap)
            # No background thread for this one (warming, correctors, the encoder): a thread still
            # running when gunicorn's master forks would leave its locks held in every worker.
            warm_terms, self.warm_terms = self.warm_terms, 0
            waits, self.wait_for_encoder = self.wait_for_encoder, True
            try:
                tools = self._tools_for(snap)
            finally:
                self.warm_terms, self.wait_for_encoder = warm_terms, waits
        if not known and warm_terms > 0:
            self._warm(snap, tools, pause_ratio=0)

    def wait_until_ready(self, timeout: float = 120.0) -> bool:
        """Block until the live build's spelling correctors and (if used) the encoder are ready,
        as a CLI-like caller of a site's service wants (a benchmark, an evaluation)."""
        snap = self.handle.snapshot()
        with snap.lock:
            tools = self._tools_for(snap)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if tools.homophones is not None and (tools.passages is None or ENCODER.ready):
                return True
            time.sleep(0.05)
        return False

    @staticmethod
    def _allowed(snap: Snapshot, tools: _Tools, filters: dict[str, list[str]]) -> frozenset[int] | None:
        query = filter_query(filters)
        if query is None:
            return None
        key = repr(sorted((k, sorted(v)) for k, v in filters.items()))
        found = tools.filters.get(key)
        if found is None:
            found = frozenset(snap.searcher.docs_for_query(query))
            if len(tools.filters) > 500:
                tools.filters.clear()
            tools.filters[key] = found
        return found

    def _hit(self, snap: Snapshot, docnum: int, score: float, pattern: re.Pattern[str] | None,
             passage: PassageHit | None = None, translations: tuple[Translation, ...] = ()) -> Hit:
        """A hit with its snippet and best section: the section of the snippet's first match, else
        the passage most similar to the query."""
        stored = snap.searcher.stored_fields(docnum)
        meta = stored.get("meta") or {}
        text = clean(stored.get("body") or "")
        html, at = snippet_at(text, pattern, meta.get("summary", "")) if pattern is not None or text else ("", -1)
        section = _section_at(text, meta.get("toc") or (), at) if at >= 0 else None
        if section is None and passage is not None and passage.anchor:
            section = Section(passage.heading, passage.anchor)
        partner = meta.get("translation_of")
        if partner and not any(t.id == partner for t in translations):
            other = snap.searcher.document(id=partner)
            if other is not None and (other.get("meta") or {}).get("state") != "draft":
                translations += (Translation(partner, (other.get("meta") or {}).get("lang", ""),
                                             other.get("title", "")),)
        return Hit(
            id=stored["id"], title=stored.get("title", ""), path=meta.get("path", ""), score=score,
            snippet=html, summary=meta.get("summary", ""), categories=_tuple(meta.get("categories")),
            tags=_tuple(meta.get("tags")), products=_tuple(meta.get("products")), type=meta.get("type", ""),
            lang=meta.get("lang", ""), state=meta.get("state", ""), section=section, translations=translations,
        )

    @staticmethod
    def _fold_translations(snap: Snapshot, tools: _Tools, ranked: list[tuple[float, int]]
                           ) -> tuple[list[tuple[float, int, tuple[Translation, ...]]], int]:
        """Ranked hits with each article's translations folded into the best-ranked one of them
        (the query's language first, see OTHER_LANGUAGE); and how many were folded."""
        groups: dict[str, int] = {}
        out: list[tuple[float, int, list[Translation]]] = []
        folded = 0
        for score, docnum in ranked:
            found = tools.translation_keys.get(docnum)
            if found is None:  # read once per article and build: stored fields are large
                stored = snap.searcher.stored_fields(docnum)
                meta = stored.get("meta") or {}
                partner = meta.get("translation_of")
                key = min(stored["id"], partner) if partner else stored["id"]  # either may name the other
                found = tools.translation_keys[docnum] = (
                    key, Translation(stored["id"], meta.get("lang", ""), stored.get("title", "")))
            key, translation = found
            if key in groups:
                out[groups[key]][2].append(translation)
                folded += 1
                continue
            groups[key] = len(out)
            out.append((score, docnum, []))
        return [(score, docnum, tuple(t)) for score, docnum, t in out], folded

    @staticmethod
    def _top(snap: Snapshot, tools: _Tools, scores: dict[int, float], docs: Sequence[int], depth: int
             ) -> list[tuple[float, int]]:
        """(score, docnum) best first, with state and usage boosts applied; ties go to the lower docnum."""
        if not docs:
            return []
        numbers = np.fromiter(docs, dtype=np.int64, count=len(docs))
        final = np.fromiter(map(scores.get, docs, itertools.repeat(0.0)), dtype=np.float64, count=len(docs))
        final *= tools.factor_array(snap)[numbers]
        best = np.lexsort((numbers, -final))[:depth]
        return list(zip(final[best].tolist(), numbers[best].tolist(), strict=True))

    @staticmethod
    def _facets(snap: Snapshot, tools: _Tools, docs: Sequence[int]) -> tuple[Facet, ...]:
        numbers = np.fromiter(docs, dtype=np.int64, count=len(docs))
        out = []
        for name in FACET_FIELDS:
            values, members = tools.facet_matrix(snap, name)
            counts = members[:, numbers].sum(axis=1).tolist() if len(values) else []
            found = sorted(((v, c) for v, c in zip(values, counts, strict=True) if c), key=lambda vc: (-vc[1], vc[0]))
            out.append(Facet(name, tuple(FacetValue(v, c) for v, c in found[:MAX_FACET_VALUES])))
        return tuple(out)

    @staticmethod
    def _visible(snap: Snapshot, docs: Iterable[int], allowed: frozenset[int] | None, blocked: set[int],
                 archived_ok: bool) -> list[int]:
        state = snap.doc_state
        return [d for d in docs if (allowed is None or d in allowed) and d not in blocked
                and (archived_ok or state.get(d) != "archived")]

    def _match(self, snap: Snapshot, tools: _Tools, compiled: CompiledQuery, allowed: frozenset[int] | None,
               blocked: set[int], archived_ok: bool, deadline: float) -> tuple[dict[int, float], list[int], float]:
        """Scores and the visible matching articles: all words for short queries, else any word
        with a bonus for all (stricter AND lost relevance on the judged set, bench/evaluate.py);
        and how much of the query the best article matches (each word weighted by its best score:
        rare words count more), which says how far word matching is to be trusted."""
        parts = [tools.scorer.evaluate(unit, deadline) for unit in compiled.units]
        ordered = sorted(parts, key=len)
        common = [d for d in ordered[0] if all(d in p for p in ordered[1:])]
        strict = self._visible(snap, common, allowed, blocked, archived_ok)
        if len(parts) == 1:
            scores = dict(parts[0])  # a copy: the scorer caches its result, and boosts change scores
            docs = strict
        elif len(parts) <= STRICT_UNITS and len(strict) >= MIN_ALL_WORDS_HITS:
            scores = {d: sum(p[d] for p in parts) for d in strict}
            docs = strict
        else:
            scores = {}
            for part in parts:
                for doc, score in part.items():
                    scores[doc] = scores.get(doc, 0.0) + score
            for doc in common:
                scores[doc] *= 1.0 + ALL_WORDS_BONUS
            docs = self._visible(snap, scores, allowed, blocked, archived_ok)
        if compiled.proximity or compiled.verbatim:
            top = heapq.nlargest(PROXIMITY_CANDIDATES, docs, key=scores.__getitem__)
            for doc, pairs in tools.scorer.close_pairs(compiled.proximity, top, PROXIMITY_SLOP).items():
                scores[doc] *= 1.0 + PROXIMITY_BONUS * pairs
            for doc, run in tools.scorer.verbatim_runs(compiled.verbatim, top).items():
                if run >= VERBATIM_MIN:
                    scores[doc] *= (1.0 + VERBATIM_BONUS) ** (run - VERBATIM_MIN + 1)
        if not docs:
            return scores, docs, 0.0
        best = max(docs, key=scores.__getitem__)
        weights = [max(part.values(), default=0.0) for part in parts]
        rarest = max(weights)  # a word no article holds counts as much as the rarest one found
        weights = [w or rarest for w in weights]
        matched = sum(w for part, w in zip(parts, weights, strict=True) if best in part)
        return scores, docs, matched / (sum(weights) or 1.0)

    def _semantic(self, snap: Snapshot, tools: _Tools, parsed: ParsedQuery, compiled: CompiledQuery,
                  allowed: frozenset[int] | None, blocked: set[int], archived_ok: bool) -> dict[int, PassageHit]:
        """The visible articles whose passages are most similar to the query (none without vectors,
        while the encoder loads, or for a query with no searchable word)."""
        if tools.passages is None or not compiled.units:
            return {}
        text = " ".join(parsed.text + parsed.phrases + parsed.prefixes)[:SEMANTIC_QUERY_CHARS]
        vector = tools.query_vector = ENCODER.encode_query(text)
        if vector is None:
            return {}
        found = {}
        for hit in tools.passages.search(vector, SEMANTIC_CANDIDATES):
            docnum = tools.docnums.get(hit.article)
            if docnum is not None and hit.similarity > SIMILARITY_FLOOR:
                found[docnum] = hit
        visible = set(self._visible(snap, found, allowed, blocked, archived_ok))
        return {d: h for d, h in found.items() if d in visible}

    @staticmethod
    def _section_passage(tools: _Tools, semantic: dict[int, PassageHit], docnum: int, snap: Snapshot
                         ) -> PassageHit | None:
        """The section most similar to the query of a hit found semantically (its best passage,
        or its best section when that passage was the lead)."""
        found = semantic.get(docnum)
        if found is None or found.anchor or tools.passages is None or tools.query_vector is None:
            return found
        return tools.passages.best_section(tools.query_vector, snap.doc_ids.get(docnum, ""))

    @staticmethod
    def _blend(scores: dict[int, float], docs: list[int], semantic: dict[int, PassageHit], coverage: float
               ) -> tuple[dict[int, float], list[int]]:
        """Word-matching and semantic scores as one (see SEMANTIC_WEIGHT); word matching counts as
        much as the best article covers the query (one common word of six is weak evidence)."""
        top_lexical = (max(scores.values(), default=0.0) or 1.0) / max(coverage, MIN_COVERAGE) ** COVERAGE_POWER
        top_similarity = max(h.similarity for h in semantic.values())
        span = max(top_similarity - SIMILARITY_FLOOR, MIN_SIMILARITY_SPAN)
        blended = {d: scores.get(d, 0.0) / top_lexical for d in docs}
        for docnum, hit in semantic.items():
            blended[docnum] = blended.get(docnum, 0.0) + SEMANTIC_WEIGHT * (hit.similarity - SIMILARITY_FLOOR) / span
        return blended, list(blended)

    @staticmethod
    def _language_first(snap: Snapshot, scores: dict[int, float], parsed: ParsedQuery) -> None:
        """Scale down articles not in the query's language (Chinese if it has Chinese, else English)."""
        language = "zh" if _CJK.search(" ".join(parsed.text + parsed.phrases)) else "en"
        same = snap.facet_docs.get("lang", {}).get(language, frozenset())
        if same and len(same) < len(snap.doc_ids):
            for docnum in scores:
                if docnum not in same:
                    scores[docnum] *= OTHER_LANGUAGE

    # -- public API ----------------------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        """Run one search: hits for the page asked for, facet counts over all matches."""
        started = time.perf_counter()
        deadline = started + TIME_LIMIT_SECONDS
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
        partial = False
        semantic: dict[int, PassageHit] = {}
        with snap.lock:
            tools = self._tools_for(snap)
            compiled = tools.compiler.compile(parsed, correct=request.correct)
            allowed = self._allowed(snap, tools, parsed.filters)
            archived_ok = "state" in parsed.filters
            try:
                blocked = set(tools.scorer.evaluate(compiled.exclude, deadline)) if compiled.exclude else set()
                coverage = 0.0
                if compiled.units:
                    scores, docs, coverage = self._match(snap, tools, compiled, allowed, blocked, archived_ok,
                                                         deadline)
                elif compiled.typed:  # text, but not one word to look up (`?`, `---`, an emoji)
                    scores, docs = {}, []
                else:
                    scores, docs = {}, self._visible(snap, sorted(snap.doc_ids), allowed, blocked, archived_ok)
                semantic = self._semantic(snap, tools, parsed, compiled, allowed, blocked, archived_ok)
                if semantic:
                    scores, docs = self._blend(scores, docs, semantic, coverage)
                self._language_first(snap, scores, parsed)
            except QueryTimeout:
                partial, scores, docs, semantic = True, {}, [], {}
            self.user_words.boost(scores, cut_query(request.query), snap.doc_ids, snap.segmenter)  # user_words.py
            # Deeper than the page: translations folded into one hit leave room for others.
            ranked, folded = self._fold_translations(snap, tools, self._top(snap, tools, scores, docs,
                                                                     min(2 * page * limit, MAX_PAGE_DEPTH)))
            pattern = match_pattern(compiled.highlight) if request.highlight else None
            window = ranked[(page - 1) * limit: page * limit]
            hits = tuple(self._hit(snap, docnum, score, pattern, self._section_passage(tools, semantic, docnum, snap),
                                   translations) for score, docnum, translations in window)
            facets = self._facets(snap, tools, docs) if request.facets else ()
        did_you_mean = _did_you_mean(request.query, compiled.corrections)
        notice = NO_WORDS if compiled.typed and not compiled.units else None
        return SearchResult(request.query, len(docs) - folded, (time.perf_counter() - started) * 1000, hits, facets,
                            did_you_mean, page, limit, partial, notice=notice)

    def more_like_this(self, article_id: str, limit: int = 5) -> tuple[Hit, ...]:
        """Articles similar to one article (by its title and most distinctive words)."""
        snap = self.handle.snapshot()
        with snap.lock:
            searcher = snap.searcher
            docnum = searcher.document_number(id=article_id)
            if docnum is None:
                return ()
            tools = self._tools_for(snap)
            terms = [t for t, _ in searcher.key_terms([docnum], "body", numterms=15)]
            stored = searcher.stored_fields(docnum)
            title = [p.term for p in snap.segmenter.pieces(stored.get("title", ""), subwords=False)
                     if p.surface not in QUERY_STOP_WORDS]
            nodes = [Term(t, 1.5) for t in dict.fromkeys(title)] + [Term(t) for t in terms if t not in title]
            if not nodes:
                return ()
            try:
                scores = tools.scorer.evaluate(Any_(tuple(nodes)), time.perf_counter() + TIME_LIMIT_SECONDS)
            except QueryTimeout:
                return ()
            docs = self._visible(snap, scores, None, {docnum}, False)
            ranked = self._top(snap, tools, scores, docs, limit)
            return tuple(self._hit(snap, d, s, None) for s, d in ranked)

    def suggest_for_ticket(self, subject: str, description: str = "", category: str | None = None,
                           limit: int = 5) -> SearchResult:
        """The best articles for a ticket: its distinctive words, subject words counting double,
        within the ticket category (and its subcategories) when that finds anything."""
        started = time.perf_counter()
        snap = self.handle.snapshot()
        with snap.lock:
            tools = self._tools_for(snap)
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
            best = sorted(weighted.values(), key=lambda wp: -wp[0])[:TICKET_TERMS]
            if not best:
                return SearchResult(subject, 0, (time.perf_counter() - started) * 1000, ())
            top = best[0][0]
            node = Any_(tuple(tools.compiler.piece_query(piece, weight / top) for weight, piece in best))
            partial = False
            try:
                scores = tools.scorer.evaluate(node, started + TIME_LIMIT_SECONDS)
            except QueryTimeout:
                partial, scores = True, {}
            docs = self._visible(snap, scores, None, set(), False)
            if category:
                within = self._allowed(snap, tools, {"category": [category.lower()]}) or frozenset()
                docs = [d for d in docs if d in within] or docs
            ranked = self._top(snap, tools, scores, docs, limit)
            pattern = match_pattern([piece.surface for _, piece in best])
            hits = tuple(self._hit(snap, d, s, pattern) for s, d in ranked)
        return SearchResult(subject, len(docs), (time.perf_counter() - started) * 1000, hits, (), None, 1, limit,
                            partial)

    def get_article(self, article_id: str) -> ArticleView | None:
        """An article's stored metadata and rendered HTML from the live build, found by its id or
        by an alias (old id or path); the view's `id` is the current one, to redirect to."""
        snap = self.handle.snapshot()
        with snap.lock:
            self._tools_for(snap)  # a site's first request is often an article: start warming the build
            stored = snap.searcher.document(id=article_id)
            if stored is None and article_id.strip() and "," not in article_id:
                stored = snap.searcher.document(key=lookup_key(article_id))
        return None if stored is None else _view(stored)

    def all_articles(self) -> list[ArticleView]:
        """Every article of the live build, without its HTML, in one pass over the stored fields
        (for listings): looking each up by id took 4 s at 10k articles, this takes a fraction."""
        snap = self.handle.snapshot()
        with snap.lock:
            self._tools_for(snap)
            return [_view(stored, html=False) for _, stored in snap.searcher.reader().iter_docs()]

    def facets(self, filters: dict[str, Sequence[str]] | None = None) -> tuple[Facet, ...]:
        """Facet counts over every visible article (for browse pages)."""
        return self.search(SearchRequest("", filters=filters or {}, limit=1, highlight=False)).facets

    def manifest(self) -> dict[str, Any]:
        """The live build's manifest (git commit, article count, build time, errors)."""
        return dict(self.handle.snapshot().manifest)


def _view(stored: dict[str, Any], html: bool = True) -> ArticleView:
    """An article's stored fields as the view callers get."""
    return ArticleView.from_stored(stored["id"], stored.get("meta") or {}, stored.get("html", "") if html else "")


_CHINESE_WORD = re.compile(r"^[\u3400-\u9fff]{2,4}$")


def _homophones(snap: Snapshot) -> HomophoneCorrector:
    """The homophone corrector of a build's Chinese words (their body document frequencies), read
    through a reader of its own: this runs beside requests, and Whoosh readers are not thread-safe."""
    with whoosh_index.open_dir(str(snap.build_dir)).reader() as reader:
        words = []
        for term, info in reader.iter_field("body"):
            word = term.decode("utf-8") if isinstance(term, bytes) else term
            if _CHINESE_WORD.match(word):
                words.append((word, int(info.doc_frequency())))
    return HomophoneCorrector(words)


def _section_at(text: str, toc: Iterable[dict[str, Any]], offset: int) -> Section | None:
    """The section of stored text holding `offset`: the last table-of-contents heading found in
    the text (in order) before it."""
    found: Section | None = None
    cursor = 0
    for heading in toc:
        title, anchor = str(heading.get("text", "")), str(heading.get("anchor", ""))
        at = text.find(title, cursor) if title else -1
        if at < 0 or not anchor:
            continue
        if at > offset:
            break
        found, cursor = Section(title, anchor), at + len(title)
    return found


def _did_you_mean(raw: str, corrections: dict[str, str]) -> str | None:
    if not corrections:
        return None
    fixed = raw
    for wrong, right in corrections.items():
        fixed = re.sub(rf"(?<![A-Za-z0-9]){re.escape(wrong)}(?![A-Za-z0-9])", right, fixed, flags=re.IGNORECASE)
    return fixed if fixed != raw else None
