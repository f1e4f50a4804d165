"""Push events from the webhook: the web process records them, `kb sync --watch` polls for new ones.

The database is the meeting point because it is the one thing every machine shares: a push
announced to any app server is seen by the watcher on every machine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from kb.records.db import Database
from kb.records.models import PushEvent

KEEP_DAYS = 30


@dataclass(frozen=True)
class RecordedPush:
    """The push's id, and whether this call stored it (False: its delivery id was already recorded)."""

    id: int
    created: bool


PUSH_LOCK = 0x6B625F70  # "kb_p": serialises push inserts on PostgreSQL so a replay race stores one row


def record_push(db: Database, host: str, ref: str, commit: str, delivery: str, now: dt.datetime) -> RecordedPush:
    """Store one push (and forget pushes older than KEEP_DAYS).

    A delivery the git host already sent (a redelivery, a replay: same `delivery` id) is not
    stored again; the first one's id is returned with created=False.
    """
    delivery = delivery[:100]
    with db.session(write=True) as session:
        if session.get_bind().dialect.name == "postgresql":  # SQLite's write session already holds the lock
            session.execute(select(func.pg_advisory_xact_lock(PUSH_LOCK)))
        session.execute(delete(PushEvent).where(PushEvent.received_at < now - dt.timedelta(days=KEEP_DAYS)))
        if delivery:
            seen = session.execute(select(PushEvent.id).where(PushEvent.delivery == delivery)
                                   .order_by(PushEvent.id).limit(1)).scalar()
            if seen is not None:
                return RecordedPush(seen, False)
        event = PushEvent(received_at=now, host=host[:20], ref=ref[:200], commit=commit[:64], delivery=delivery)
        session.add(event)
        session.flush()
        return RecordedPush(event.id, True)


def latest_push(db: Database) -> int | None:
    """The id of the newest push recorded, or None before the first."""
    with db.session() as session:
        latest: int | None = session.execute(select(func.max(PushEvent.id))).scalar_one()
        return latest
