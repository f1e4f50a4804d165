"""`kb sync` (once, or `--watch` for webhook pushes), `kb export` and `kb import`.

The records and build modules are imported inside the commands, so that `kb --help` stays quick.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kb.config import Settings
from kb.logs import configure_command as configure_logging
from kb.records.errors import DatabaseUnavailableError
from kbcli.notify_commands import notify_push, notify_review_due
from kbcli.options import KbCommand, common_options
from kbcli.records_commands import refresh_boosts
from kbcli.style import echo_problem
from search.errors import BuildLockedError

if TYPE_CHECKING:
    from kb.records.db import Database
    from search.sync import SyncResult

log = logging.getLogger(__name__)
METRICS_SECONDS = 15.0  # the build's age in the textfile is at most this stale (node_exporter reads it per scrape)


def _report(result: SyncResult, as_json: bool) -> int:
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=1))
    else:
        for problem in result.problems:
            served = f" [{problem.served}]" if problem.served else ""
            author = f" ({problem.author})" if problem.author else ""
            echo_problem(f"{problem.path}:{problem.line}: {problem.severity}: {problem.message}{author}{served}",
                         err=True)
    click.echo(result.summary(), err=True)
    return 1 if result.outcome == "failed" else 0


def _write_metrics(settings: Settings) -> None:
    """node_exporter's textfile: the live build and the syncs, as /metrics has them (a failure only warns)."""
    if not settings.metrics_textfile:
        return
    from search.metrics import write_textfile  # prometheus-client only for the watcher that writes metrics

    try:
        write_textfile(Path(settings.metrics_textfile), settings.index_dir)
    except OSError as exc:
        log.warning("cannot write metrics to %s: %s", settings.metrics_textfile, exc)


def count_sync(outcome: str) -> None:
    """One more sync with this outcome, in the watcher's kb_sync_runs_total."""
    from search.metrics import SYNC_RUNS

    SYNC_RUNS.labels(outcome).inc()


def watch(settings: Settings, interval: float, every: float, max_syncs: int | None = None) -> None:
    """Sync now, then whenever a push webhook is recorded (polled every `interval` seconds)
    and at least every `every` seconds; runs until stopped (max_syncs ends it, for tests).
    With KB_METRICS_TEXTFILE, rewrites that file after every sync and every METRICS_SECONDS."""
    from kb.records.db import Database
    from kb.records.hooks import latest_push
    from search.sync import sync

    db = Database(settings.database_url)
    metrics_written = 0.0
    seen: int | None = None
    last_sync = 0.0
    syncs = 0
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        # systemd stops the service with SIGTERM: finish the sync under way, then leave.
        log.info("signal %d: stopping after the current sync", signum)
        stopping.set()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping.is_set() and (max_syncs is None or syncs < max_syncs):
            try:
                latest = latest_push(db)
            except DatabaseUnavailableError as exc:
                log.warning("cannot read webhook pushes: %s", exc)
                latest = seen
            due = time.monotonic() - last_sync >= every
            if seen is None or latest != seen or due:
                try:
                    result = sync(settings)
                except BuildLockedError as exc:
                    log.info("%s", exc)
                else:
                    log.log(logging.ERROR if result.outcome == "failed" else logging.INFO, "%s", result.summary())
                    count_sync(result.outcome)
                    seen, last_sync, syncs = latest, time.monotonic(), syncs + 1
                    _refresh_boosts(settings, db)
                    _write_metrics(settings)
                    metrics_written = time.monotonic()
                    _notify(settings, db, result)
                    continue
            if time.monotonic() - metrics_written >= METRICS_SECONDS:
                _write_metrics(settings)
                metrics_written = time.monotonic()
            stopping.wait(interval)
    finally:
        signal.signal(signal.SIGTERM, previous)
        db.dispose()


def _notify(settings: Settings, db: Database, result: SyncResult) -> None:
    """A broken push is told to KB_NOTIFY_WEBHOOK (once per commit), and the review-due list once a week."""
    if not settings.notify_webhook:
        return
    notify_push(settings, db, result)
    try:
        notify_review_due(settings, db)
    except DatabaseUnavailableError as exc:
        log.warning("review-due list not sent: %s", exc)


def _refresh_boosts(settings: Settings, db: Database) -> None:
    """Search ranking follows recent resolutions: refreshed with every sync (no rebuild)."""
    try:
        count, _ = refresh_boosts(settings, db)
    except DatabaseUnavailableError as exc:
        log.warning("cannot refresh search boosts: %s", exc)
    else:
        log.info("search boosts refreshed for %d articles", count)


@click.command(cls=KbCommand, name="sync")
@common_options
@click.option("--force", is_flag=True, help="Build even when the commit is already live (or failed before).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--watch", "watching", is_flag=True,
              help="Keep running: sync on every recorded webhook push, and every --every seconds.")
@click.option("--interval", type=click.FloatRange(0.1), default=2.0, show_default=True,
              help="With --watch: seconds between looks for webhook pushes.")
@click.option("--every", type=click.FloatRange(1), default=300.0, show_default=True,
              help="With --watch: sync at least this often, webhook or not.")
def sync_command(settings: Settings, force: bool, as_json: bool, watching: bool, interval: float,
                 every: float) -> int:
    """Fetch the articles repository, build what changed, swap it in, and record the result."""
    from search.sync import sync

    configure_logging("INFO")
    if watching:
        watch(settings, interval, every)
        return 0
    result = sync(settings, force=force)
    if settings.notify_webhook:
        from kb.records.db import Database

        db = Database(settings.database_url)
        try:
            notify_push(settings, db, result)
        finally:
            db.dispose()
    return _report(result, as_json)


@click.command(cls=KbCommand, name="export")
@common_options
@click.argument("output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), default="-")
def export_command(settings: Settings, output: Path) -> int:
    """Write every record as JSON lines (to OUTPUT, default stdout): a backup `kb import` restores."""
    from kb.records.backup import export_records
    from kb.records.db import Database

    db = Database(settings.database_url)
    try:
        if str(output) == "-":
            counts = export_records(db, sys.stdout)
        else:
            with open(output, "w", encoding="utf-8") as handle:
                counts = export_records(db, handle)
    finally:
        db.dispose()
    click.echo(", ".join(f"{n} {table}" for table, n in counts.items()) + " exported", err=True)
    return 0


@click.command(cls=KbCommand, name="import")
@common_options
@click.argument("source", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True, exists=True))
def import_command(settings: Settings, source: Path) -> int:
    """Restore records from `kb export` JSON lines into an empty database (ids and times kept)."""
    from kb.records.backup import import_records
    from kb.records.db import Database

    db = Database(settings.database_url)
    try:
        if str(source) == "-":
            counts = import_records(db, sys.stdin)
        else:
            with open(source, encoding="utf-8") as handle:
                counts = import_records(db, handle)
    finally:
        db.dispose()
    click.echo(", ".join(f"{n} {table}" for table, n in counts.items()) + " imported", err=True)
    return 0


COMMANDS = (sync_command, export_command, import_command)
