"""Push events from the webhook: the web process records them, `kb sync --watch` polls for new ones.

The database is the meeting point because it is the one thing every machine shares: a push
announced to any app server is seen by the watcher on every machine.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select

from kb.records.db import Database
from kb.records.models import PushEvent

KEEP_DAYS = 30


def record_push(db: Database, host: str, ref: str, commit: str, delivery: str, now: dt.datetime) -> int:
    """Store one push (and forget pushes older than KEEP_DAYS); returns its id."""
    with db.session(write=True) as session:
        session.execute(delete(PushEvent).where(PushEvent.received_at < now - dt.timedelta(days=KEEP_DAYS)))
        event = PushEvent(received_at=now, host=host[:20], ref=ref[:200], commit=commit[:64], delivery=delivery[:100])
        session.add(event)
        session.flush()
        return event.id


def latest_push(db: Database) -> int | None:
    """The id of the newest push recorded, or None before the first."""
    with db.session() as session:
        latest: int | None = session.execute(select(func.max(PushEvent.id))).scalar_one()
        return latest
