"""Notifications from the terminal and from `kb sync`: broken pushes and the weekly review-due list.

Every machine runs `kb sync --watch`, so each notice is claimed in the records database first
(kind and key: the commit, the ISO week) and goes out once, from whichever machine claims it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

import click

from kb.config import Settings
from kb.gitsync import short
from kb.loader import LoadOptions, load_knowledge_base
from kb.notify import Message, send
from kb.records.db import Database
from kb.records.errors import DatabaseUnavailableError
from kb.records.store import RecordStore
from kbcli.options import KbGroup, common_options
from search.sync import SyncResult

log = logging.getLogger(__name__)


def _link(settings: Settings, path: str) -> str:
    return settings.site_url.rstrip("/") + path if settings.site_url else ""


def _claim_and_send(settings: Settings, db: Database, kind: str, key: str, message: Message) -> bool:
    """Send once per (kind, key) across machines; a failed send gives the claim back for the next try."""
    store = RecordStore(db, lambda _key: None)
    if not store.claim_notification(kind, key):
        return False
    if send(settings.notify_webhook, message, settings.notify_format):
        return True
    store.release_notification(kind, key)
    return False


def push_message(result: SyncResult, settings: Settings) -> Message | None:
    """The notice for a push that broke articles or could not be built (None when it is fine)."""
    errors = result.errors
    if result.outcome != "failed" and not errors:
        return None
    lines = [f"{p.path}:{p.line}: {p.message}" + (f" ({p.author})" if p.author else "")
             + (f" [{p.served}]" if p.served else "") for p in errors]
    if result.outcome == "failed":
        lines.insert(0, f"not published: {result.error}")
    authors = sorted({p.author for p in errors if p.author})
    title = f"Push {short(result.commit) or '(fetch)'} has {len(errors)} broken article(s)" if errors else \
        f"Push {short(result.commit) or '(fetch)'} could not be published"
    return Message("push-failed", title, tuple(lines), _link(settings, "/status"),
                   {"commit": result.commit, "outcome": result.outcome, "authors": authors,
                    "problems": [{"path": p.path, "line": p.line, "message": p.message, "author": p.author,
                                  "served": p.served} for p in errors]})


def notify_push(settings: Settings, db: Database, result: SyncResult) -> bool:
    """Tell the channel about a broken push, once per commit (every machine syncs the same push)."""
    message = push_message(result, settings)
    if message is None or not settings.notify_webhook:
        return False
    key = result.commit or f"fetch-{dt.date.today().isoformat()}"
    try:
        return _claim_and_send(settings, db, "push-failed", key, message)
    except DatabaseUnavailableError as exc:
        log.warning("broken push not notified: %s", exc)
        return False


def review_due_message(settings: Settings, today: dt.date) -> Message | None:
    """Articles whose review is overdue, grouped by owner (None when there are none)."""
    kb = load_knowledge_base(settings.articles_dir, LoadOptions.from_settings(settings, render=False,
                                                                              git_history=False))
    by_owner: dict[str, list[str]] = defaultdict(list)
    due = sorted((a for a in kb.articles if a.state not in ("archived", "draft") and a.review_due is not None
                  and a.review_due < today), key=lambda a: (a.owner, a.review_due or today, a.id))
    for a in due:
        by_owner[a.owner or "no owner"].append(f"{a.title} ({a.id}), due {a.review_due}")
    if not due:
        return None
    lines = tuple(f"{owner}: {item}" for owner, items in by_owner.items() for item in items)
    week = today.isocalendar()
    return Message("review-due", f"{len(due)} article(s) due for review, week {week.year}-W{week.week:02d}",
                   lines, _link(settings, "/review-due"),
                   {"week": f"{week.year}-W{week.week:02d}",
                    "owners": {owner: len(items) for owner, items in by_owner.items()},
                    "articles": [{"id": a.id, "owner": a.owner, "review_due": str(a.review_due)} for a in due]})


def notify_review_due(settings: Settings, db: Database, today: dt.date | None = None, force: bool = False) -> bool:
    """This week's review-due list, once per ISO week (`force` sends it again)."""
    if not settings.notify_webhook:
        return False
    today = today or dt.date.today()
    week = today.isocalendar()
    key = f"{week.year}-W{week.week:02d}"
    store = RecordStore(db, lambda _key: None)
    if not force and store.notification_sent("review-due", key):
        return False
    message = review_due_message(settings, today)
    if message is None:
        return False
    if force:
        return send(settings.notify_webhook, message, settings.notify_format)
    return _claim_and_send(settings, db, "review-due", key, message)


@click.group(cls=KbGroup)
def notify() -> None:
    """Notifications to KB_NOTIFY_WEBHOOK (flags are sent by the site as they arrive)."""


@notify.command("review-due")
@common_options
@click.option("--force", is_flag=True, help="Send even if this week's list went out already.")
def review_due_command(settings: Settings, force: bool) -> int:
    """Send this week's review-due list, grouped by owner (once a week; `kb sync --watch` does it too)."""
    if not settings.notify_webhook:
        click.echo("KB_NOTIFY_WEBHOOK is not set: nothing sent", err=True)
        return 1
    db = Database(settings.database_url)
    try:
        sent = notify_review_due(settings, db, force=force)
    finally:
        db.dispose()
    click.echo("review-due list sent" if sent else "nothing sent (already sent this week, or nothing is due)")
    return 0


@notify.command("test")
@common_options
def test_command(settings: Settings) -> int:
    """Send a test message, to check KB_NOTIFY_WEBHOOK and KB_NOTIFY_FORMAT."""
    if not settings.notify_webhook:
        click.echo("KB_NOTIFY_WEBHOOK is not set", err=True)
        return 1
    ok = send(settings.notify_webhook, Message("test", "kb notifications work", ("This is a test message from kb.",),
                                               _link(settings, "/")), settings.notify_format)
    click.echo("sent" if ok else "the webhook did not accept the message (see the log line above)")
    return 0 if ok else 1


COMMANDS = (notify,)
