"""Prometheus metrics, declared once: the web's `/metrics` and `kb sync --watch`'s textfile serve them.

Counters and the histogram live in the process that counts (a web worker, the sync watcher).
Under gunicorn every worker writes them to files in `PROMETHEUS_MULTIPROC_DIR`
(deploy/gunicorn.conf.py sets it up) and a scrape of any worker sums them all: prometheus-client's
multiprocess mode, which beats hand-made shared counters because it needs no lock between workers
and survives worker restarts. What the files on disk say (the live build's age and size, the last
syncs) is read at scrape time by `BuildCollector`, so the web and the textfile report it alike.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from search.build import current_build, read_manifest
from search.sync import SyncResult, read_history, read_state

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SYNC_OUTCOMES = ("synced", "unchanged", "failed")
# Searches stop themselves at 0.8 s (search.service.TIME_LIMIT_SECONDS): buckets cover up to there.
SEARCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)

SEARCH_SECONDS = Histogram("kb_search_duration_seconds", "Time to answer one search, in seconds.",
                           ["endpoint"], buckets=SEARCH_BUCKETS)
SEARCH_ZERO_RESULTS = Counter("kb_search_zero_results", "Searches (with words) that found nothing.", ["endpoint"])
SEARCH_REFUSED = Counter("kb_search_refused", "Searches refused or cut short: over a limit, or out of time.",
                         ["endpoint", "reason"])
RECORDS_WRITE_ERRORS = Counter("kb_records_write_errors", "Records that could not be written (database "
                               "unavailable or failing).", ["kind"])
HTTP_REQUESTS = Counter("kb_http_requests", "HTTP requests answered, by route and status code.",
                        ["method", "endpoint", "status"])
HTTP_SECONDS = Histogram("kb_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
                         ["endpoint"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
SYNC_RUNS = Counter("kb_sync_runs", "Syncs run by this `kb sync --watch` process, by outcome.", ["outcome"])


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # a file removed while we walk: a build being cleaned up
    return total


class BuildCollector(Collector):
    """The live build (age, articles, bytes) and the syncs recorded next to it, read from disk per scrape."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    def collect(self) -> Iterator[Metric]:
        manifest = read_manifest(self.index_dir) or {}
        live = current_build(self.index_dir)
        built = _timestamp(manifest.get("built_at"))
        present = GaugeMetricFamily("kb_build_live", "1 when a live index build is being served, else 0.")
        present.add_metric([], 1.0 if live is not None and manifest else 0.0)
        yield present
        if built is not None:
            age = GaugeMetricFamily("kb_build_age_seconds", "Seconds since the live index build was made.")
            age.add_metric([], max(0.0, dt.datetime.now(dt.UTC).timestamp() - built))
            yield age
            stamp = GaugeMetricFamily("kb_build_timestamp_seconds", "When the live build was made (Unix time).")
            stamp.add_metric([], built)
            yield stamp
        if manifest:
            articles = GaugeMetricFamily("kb_build_articles", "Articles in the live index build.")
            articles.add_metric([], float(manifest.get("articles", 0)))
            yield articles
        if live is not None:
            size = GaugeMetricFamily("kb_build_bytes", "Bytes on disk of the live index build.")
            size.add_metric([], float(_size(live)))
            yield size
        yield from self._syncs()

    def _syncs(self) -> Iterable[Metric]:
        state = read_state(self.index_dir)
        history = read_history(self.index_dir, limit=1000)
        last_by_outcome: dict[str, SyncResult] = {}
        for result in [*([state.last] if state.last else []), *history]:
            last_by_outcome.setdefault(result.outcome, result)  # newest first
        if state.last is not None:
            outcome = GaugeMetricFamily("kb_sync_last_outcome", "1 for the outcome of the last sync.",
                                        labels=["outcome"])
            for name in SYNC_OUTCOMES:
                outcome.add_metric([name], 1.0 if state.last.outcome == name else 0.0)
            yield outcome
            seconds = GaugeMetricFamily("kb_sync_last_duration_seconds", "How long the last sync took.")
            seconds.add_metric([], state.last.seconds)
            yield seconds
        stamps = GaugeMetricFamily("kb_sync_last_timestamp_seconds", "When a sync last had this outcome "
                                   "(Unix time).", labels=["outcome"])
        for name, result in sorted(last_by_outcome.items()):
            when = _timestamp(result.started)
            if when is not None:
                stamps.add_metric([name], when)
        yield stamps
        recent = GaugeMetricFamily("kb_sync_recent", "Syncs kept in this machine's sync history, by outcome.",
                                   labels=["outcome"])
        for name in SYNC_OUTCOMES:
            recent.add_metric([name], float(sum(1 for r in history if r.outcome == name)))
        yield recent


def exposition(index_dir: Path) -> bytes:
    """The Prometheus text for /metrics: this process's (or, under gunicorn, every worker's) metrics plus the build."""
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(BuildCollector(index_dir))
    if os.environ.get(MULTIPROC_ENV):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
        return generate_latest(counted) + generate_latest(scraped)
    return generate_latest(REGISTRY) + generate_latest(scraped)


def write_textfile(path: Path, index_dir: Path) -> None:
    """The same metrics for node_exporter's textfile collector, written atomically (temp file, rename)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BuildCollector(index_dir))
    registry.register(_Counted(SYNC_RUNS))
    write_to_textfile(str(path), registry)


class _Counted(Collector):
    """One metric of this process, for a registry of its own (the textfile's)."""

    def __init__(self, metric: Counter) -> None:
        self.metric = metric

    def collect(self) -> Iterable[Metric]:
        return self.metric.collect()


def mark_worker_dead(pid: int) -> None:
    """gunicorn's child_exit hook: drop a dead worker's live gauges (its counters stay counted)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
