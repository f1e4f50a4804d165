"""Posting arrays and the scorer built on them give exactly what Whoosh's own queries give."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from whoosh import query as wq

from search.postings import POSITION_BITS, PostingsReader, _decode_block, _position_keys
from search.results import SearchRequest
from search.schema import FIELD_WEIGHTS
from search.scoring import PHRASE_FIELDS, PROXIMITY_FIELDS, Scorer, Term
from search.service import SearchService
from tests.test_search_fixtures import MakeArticle

pytest_plugins = ("tests.test_search_fixtures",)

WORDS = ["vpn", "gateway", "timeout", "printer", "spooler", "offline", "restart", "driver", "queue",
         "password", "reset", "token"]


def _whoosh_scores(searcher: Any, queries: list[tuple[wq.Query, float]]) -> dict[int, float]:
    """What Whoosh's matchers score, weighted per field as the scorer weights them."""
    scores: dict[int, float] = {}
    context = searcher.context()
    for query, weight in queries:
        for leaf, offset in searcher.leaf_searchers():
            matcher = query.matcher(leaf, context)
            while matcher.is_active():
                doc = offset + matcher.id()
                scores[doc] = scores.get(doc, 0.0) + weight * matcher.score()
                matcher.next()
    return scores


def _assert_same(ours: dict[int, float], theirs: dict[int, float]) -> None:
    assert ours.keys() == theirs.keys()
    for doc, score in theirs.items():
        assert ours[doc] == pytest.approx(score, rel=1e-9)


@pytest.fixture
def corpus(make_article: MakeArticle, build: Callable[..., SearchService]) -> Iterator[SearchService]:
    """Random word soup (so words repeat and stand next to each other), Chinese, identifiers, and
    an incremental rebuild so that the first segment has deleted articles."""
    rng = random.Random(3)
    for n in range(60):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(5, 120)))
        title = " ".join(rng.sample(WORDS, 3))
        make_article(f"soup-{n:02}", title, body, summary=" ".join(rng.sample(WORDS, 4)),
                     errors=["ERROR 1045 (28000)"] if n % 7 == 0 else [])
    make_article("zh-1", "虚拟专用网连接超时", "在酒店网络下连接虚拟专用网超时，请改用网关。虚拟专用网连接超时。",
                 lang="zh")
    make_article("ident", "Error 0x80070005", "Windows Update fails with 0x80070005 access denied; E_ACCESSDENIED.")
    build()
    for n in range(0, 60, 6):  # change some articles: the rebuild deletes their old documents
        make_article(f"soup-{n:02}", "vpn gateway timeout", "printer spooler offline " * (n // 6 + 1))
    service = build()
    yield service
    service.handle.close()


def _scorer(service: SearchService) -> tuple[Any, Scorer]:
    """A scorer with Whoosh's idf per field, to compare with Whoosh (the site shares one idf
    across fields: test_one_idf_per_word_for_every_field)."""
    snap = service.handle.snapshot()
    return snap.searcher, Scorer(snap.searcher, shared_idf=False)


def test_one_idf_per_word_for_every_field(corpus: SearchService) -> None:
    searcher, per_field = _scorer(corpus)
    shared = Scorer(searcher)
    reader = searcher.reader()
    for word in ("vpn", "printer", "token"):
        commonest = max(FIELD_WEIGHTS, key=lambda name: reader.doc_frequency(name, word))
        expected = per_field.evaluate(Term(word))
        ours = shared.evaluate(Term(word))
        assert ours.keys() == expected.keys()
        # Fields rarer than the commonest count no more than their share: every article scores at most
        # what Whoosh gives it, and an article holding the word only in its commonest field scores the same.
        assert all(ours[d] <= expected[d] * (1 + 1e-9) for d in ours)
        only_there = [d for d in ours if all(
            name == commonest or not per_field.postings.has(name, word) or
            d not in set(per_field.postings.get(name, word).docs.tolist()) for name in FIELD_WEIGHTS)]
        assert only_there and all(ours[d] == pytest.approx(expected[d]) for d in only_there)


def test_index_under_test_has_deleted_documents(corpus: SearchService) -> None:
    searcher, _ = _scorer(corpus)
    assert searcher.reader().has_deletions()


def test_word_scores_equal_whooshs_bm25f(corpus: SearchService) -> None:
    searcher, scorer = _scorer(corpus)
    for term in [*WORDS, "虚拟", "专用网", "0x80070005", "1045", "nosuchword"]:
        expected = _whoosh_scores(searcher, [(wq.Term(f, term), w) for f, w in FIELD_WEIGHTS.items()])
        _assert_same(scorer._term_scores(term), expected)


def test_phrase_scores_equal_whooshs_phrase_queries(corpus: SearchService) -> None:
    searcher, scorer = _scorer(corpus)
    phrases = [(a, b) for a in WORDS[:8] for b in WORDS[:8]] + [("printer", "spooler", "offline"),
                                                                  ("spooler", "spooler"), ("error", "1045", "28000"),
                                                                  ("虚拟", "专用网"), ("连接", "超时")]
    matched = 0
    for terms in phrases:
        expected = _whoosh_scores(searcher, [(wq.Phrase(f, list(terms)), FIELD_WEIGHTS[f]) for f in PHRASE_FIELDS])
        _assert_same(scorer._phrase_scores(terms), expected)
        matched += bool(expected)
    assert matched > len(phrases) // 2  # the comparison covered real matches, not only empty results


def test_close_pairs_match_a_direct_reading_of_positions(corpus: SearchService) -> None:
    searcher, scorer = _scorer(corpus)
    reader = searcher.reader()
    docs = list(range(reader.doc_count_all()))
    live = [d for d in docs if not reader.is_deleted(d)]

    def positions(fieldname: str, term: str, doc: int) -> list[int]:
        matcher = wq.Term(fieldname, term).matcher(searcher)
        while matcher.is_active():
            if matcher.id() == doc:
                return list(matcher.value_as("positions"))
            matcher.next()
        return []

    pairs = [("vpn", "timeout"), ("printer", "offline"), ("token", "reset")]
    expected: dict[int, int] = {}
    for a, b in pairs:
        for doc in live:
            if any(abs(p - q) <= 4 for f in PROXIMITY_FIELDS
                   for p in positions(f, a, doc) for q in positions(f, b, doc)):
                expected[doc] = expected.get(doc, 0) + 1
    assert expected
    assert scorer.close_pairs(pairs, live, 4) == expected


def test_positions_decode_as_whoosh_stores_them(corpus: SearchService) -> None:
    searcher, _ = _scorer(corpus)
    leaf, _ = next(iter(searcher.leaf_searchers()))
    matcher = leaf.reader().postings("body", "printer")
    raw = matcher.child if hasattr(matcher, "child") else matcher
    raw._read_values()
    decoded = _decode_block(raw._values)
    fmt = searcher.schema["body"].format
    assert [list(_accumulate(d)) for d in decoded] == [fmt.decode_positions(v) for v in raw._values]


def _accumulate(deltas: list[int]) -> Iterator[int]:
    total = 0
    for delta in deltas:
        total += delta
        yield total


def test_position_keys_put_each_article_in_its_own_range() -> None:
    import numpy as np

    keys = _position_keys(np.array([3, 9], dtype=np.int64), [[2, 5], [0, 1, 1]])
    assert keys.tolist() == [(3 << POSITION_BITS) + 2, (3 << POSITION_BITS) + 7, (9 << POSITION_BITS) + 0,
                             (9 << POSITION_BITS) + 1, (9 << POSITION_BITS) + 2]


def test_cache_stays_within_its_byte_budget(corpus: SearchService) -> None:
    searcher, _ = _scorer(corpus)
    reader = PostingsReader(searcher, max_bytes=4000)
    for term in WORDS:
        reader.get("body", term, positions=True)
        assert reader.bytes <= 4000 or len(reader.cache) == 1
    assert reader.bytes == sum(p.nbytes for p in reader.cache.values())


def test_warming_reads_frequent_words_and_changes_no_result(corpus: SearchService, settings: Any) -> None:
    warmed = SearchService(settings.index_dir, warm_terms=50)
    warmed.open()
    deadline = time.monotonic() + 30
    while warmed.last_warm is None and time.monotonic() < deadline:
        time.sleep(0.02)
    report = warmed.last_warm
    assert report is not None and report.terms > 0 and report.words > 0
    tools = warmed._tools
    assert tools is not None
    assert ("body", "printer") in tools.scorer.postings.cache  # among the most frequent words
    for query in ["vpn timeout", '"printer spooler"', "虚拟专用网", "0x80070005", "reset -token"]:
        request = SearchRequest(query, limit=50)
        ours = [(h.id, round(h.score, 9)) for h in warmed.search(request).hits]
        assert ours == [(h.id, round(h.score, 9)) for h in corpus.search(request).hits]
    warmed.handle.close()
