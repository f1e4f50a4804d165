"""Warming a newly opened index build: build the spelling corrector and read the most frequent
words' postings ahead of queries.

The first query to use a common word reads its postings from Whoosh's pickled blocks
(several ms per field at 10k articles, twice that with positions). Search engines warm
new searchers before they take traffic (Solr's newSearcher queries, Elasticsearch's eager
loading); here each process reads the postings of the words most articles share, which
are the ones queries hit and the costly ones to read, in a background thread, taking the
snapshot lock one word at a time so requests go on meanwhile, and pausing as long as it
worked, so that it takes at most half a CPU from the requests of a starting server.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from search.index import Snapshot
from search.schema import FIELD_WEIGHTS
from search.scoring import PHRASE_FIELDS, Scorer, Term

log = logging.getLogger(__name__)

LEXICON_CHUNK = 2000  # terms read from the lexicon per hold of the lock
CACHE_SHARE = 0.5  # stop once the postings cache is this full, leaving room for queries
PAUSE_RATIO = 1.0  # after each step, sleep this many times as long as the step took


@contextmanager
def _paused(ratio: float = PAUSE_RATIO) -> Iterator[None]:
    """Run a step, then sleep `ratio` times as long (outside the lock)."""
    started = time.perf_counter()
    yield
    if ratio:
        time.sleep((time.perf_counter() - started) * ratio)


@dataclass(frozen=True)
class WarmReport:
    terms: int  # (field, word) postings read
    words: int  # words whose combined scores were cached
    seconds: float
    bytes: int
    stopped: bool  # a newer build replaced this one, or the cache share was reached


def frequent_terms(snap: Snapshot, limit: int, pause_ratio: float = PAUSE_RATIO) -> list[tuple[str, str]]:
    """The (field, word) pairs of the text fields held by the most articles, most first."""
    ranked: list[tuple[int, str, str]] = []
    for fieldname in FIELD_WEIGHTS:
        with snap.lock:
            lexicon = snap.searcher.reader().iter_field(fieldname)
        while True:
            with _paused(pause_ratio), snap.lock:
                chunk = list(itertools.islice(lexicon, LEXICON_CHUNK))
            if not chunk:
                break
            for term, info in chunk:
                ranked.append((info.doc_frequency(), fieldname, term.decode("utf-8") if isinstance(term, bytes)
                               else term))
    ranked.sort(key=lambda t: -t[0])
    return [(fieldname, term) for _, fieldname, term in ranked[:limit]]


def warm(snap: Snapshot, scorer: Scorer, max_terms: int, still_wanted: Callable[[], bool] = lambda: True,
         pause_ratio: float = PAUSE_RATIO) -> WarmReport:
    """Read postings (with positions where phrases and proximity need them) of the `max_terms`
    most frequent (field, word) pairs, then cache the combined scores of those words; pausing
    `pause_ratio` times as long as each step took (0 where no request waits, as before a fork)."""
    started = time.perf_counter()
    if still_wanted():
        snap.prepare_corrector()  # first: a misspelt word in a request must not wait for it
    postings = scorer.postings
    budget = postings.max_bytes * CACHE_SHARE
    terms = frequent_terms(snap, max_terms, pause_ratio)
    read = words = 0
    stopped = False
    for fieldname, term in terms:
        if not still_wanted() or postings.bytes > budget:
            stopped = True
            break
        with _paused(pause_ratio), snap.lock:
            # Proximity reads title and body, both phrase fields: one positions read serves both.
            postings.get(fieldname, term, positions=fieldname in PHRASE_FIELDS)
        read += 1
    for term in dict.fromkeys(term for _, term in terms[:read]):
        if not still_wanted() or scorer.entries > scorer.max_entries * CACHE_SHARE:
            stopped = True
            break
        with _paused(pause_ratio), snap.lock:
            scorer.evaluate(Term(term))
        words += 1
    report = WarmReport(read, words, time.perf_counter() - started, postings.bytes, stopped)
    log.info("warmed index build %s: %d postings, %d words, %.1f MB in %.1fs%s", snap.build_dir.name, report.terms,
             report.words, report.bytes / 1e6, report.seconds, " (stopped early)" if stopped else "")
    return report
