"""Recording: resolutions, tickets closed without an article, flags, searches and feedback.

Every write validates first and stores nothing on error. Recording a resolution is
idempotent: the same ticket, article and relation twice is one record, and the second
answer says it already existed. The same key with another category is refused with a
ConflictError (HTTP 409) naming the stored category: one ticket has one category, and
silently moving a ticket between categories would rewrite past reports.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Insert, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from kb.clock import Clock, utc_now
from kb.records import validation as v
from kb.records.articles import Resolver
from kb.records.db import Database
from kb.records.errors import ConflictError, InvalidRecordError, UnknownArticleError
from kb.records.models import ClosedTicket, Feedback, Flag, Resolution, SearchLogEntry


@dataclass(frozen=True)
class ResolutionRecord:
    """A stored resolution; `created` is False when it was already recorded."""

    id: int
    ticket_system: str
    ticket_id: str
    article_id: str
    relation: str
    category: str
    user: str
    created_at: dt.datetime
    source: str
    note: str
    created: bool = True

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (timestamps in ISO 8601)."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


@dataclass(frozen=True)
class ClosedTicketRecord:
    """A stored ticket closed without an article; `created` is False when it was already recorded."""

    id: int
    ticket_system: str
    ticket_id: str
    category: str
    user: str
    closed_at: dt.datetime
    source: str
    note: str
    created: bool = True

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (timestamps in ISO 8601)."""
        data = asdict(self)
        data["closed_at"] = self.closed_at.isoformat()
        return data


@dataclass(frozen=True)
class FlagRecord:
    """A flag on an article."""

    id: int
    article_id: str
    reason: str
    user: str
    created_at: dt.datetime
    status: str
    done_at: dt.datetime | None = None
    done_by: str | None = None


def _insert(dialect: str) -> Callable[[Any], Insert]:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _resolution(row: Resolution, created: bool) -> ResolutionRecord:
    return ResolutionRecord(row.id, row.ticket_system, row.ticket_id, row.article_id, row.relation, row.category,
                            row.user, row.created_at, row.source, row.note, created)


def _closed(row: ClosedTicket, created: bool) -> ClosedTicketRecord:
    return ClosedTicketRecord(row.id, row.ticket_system, row.ticket_id, row.category, row.user, row.closed_at,
                              row.source, row.note, created)


def _flag(row: Flag) -> FlagRecord:
    return FlagRecord(row.id, row.article_id, row.reason, row.user, row.created_at, row.status, row.done_at,
                      row.done_by)


class RecordStore:
    """The records of one database, checked against one set of articles and categories."""

    def __init__(self, db: Database, resolve: Resolver, categories: Collection[str] | None = None,
                 clock: Clock = utc_now) -> None:
        self.db = db
        self.resolve = resolve
        self.categories = categories
        self.clock = clock

    def article_id(self, key: object) -> str:
        """The current id of an article named by id, alias or old path."""
        text = v.article_key(key)
        found = self.resolve(text)
        if found is None:
            raise UnknownArticleError(f"unknown article {text!r}: no article has this id or alias")
        return found

    # -- resolutions -----------------------------------------------------------------------
    def record_resolution(self, *, article: object, ticket_id: object, category: object,
                          relation: object = "resolved", ticket_system: object = None, user: object = "",
                          note: object = "", source: str = "api", when: dt.datetime | None = None,
                          ) -> ResolutionRecord:
        """Record that an article resolved a ticket; idempotent, ConflictError on another category."""
        values = {
            "ticket_system": v.ticket_system(ticket_system),
            "ticket_id": v.ticket_id(ticket_id),
            "article_id": self.article_id(article),
            "relation": v.relation(relation),
            "category": v.category(category, self.categories),
            "user": v.user(user),
            "created_at": when or self.clock(),
            "source": v.source(source),
            "note": v.note(note),
        }
        key = ("ticket_system", "ticket_id", "article_id", "relation")
        with self.db.session(write=True) as session:
            stmt = _insert(self.db.dialect)(Resolution).values(**values)
            stmt = stmt.on_conflict_do_nothing(index_elements=list(key)).returning(Resolution.id)  # type: ignore[attr-defined]
            new_id = session.execute(stmt).scalar_one_or_none()
            row = session.execute(select(Resolution).where(*(getattr(Resolution, k) == values[k] for k in key))
                                  ).scalar_one()
            if new_id is None and row.category != values["category"]:
                raise ConflictError(
                    f"ticket {row.ticket_id} is already recorded against {row.article_id} ({row.relation}) "
                    f"with category {row.category!r}, not {values['category']!r}; the record was not changed")
            return _resolution(row, created=new_id is not None)

    def resolutions(self, article_id: str | None = None, ticket_id: str | None = None,
                    limit: int | None = None) -> list[ResolutionRecord]:
        """Stored resolutions, newest first, for one article (any of its ids) or one ticket."""
        stmt = select(Resolution).order_by(Resolution.created_at.desc(), Resolution.id.desc())
        if article_id is not None:
            current = self.resolve(article_id) or article_id
            stmt = stmt.where(Resolution.article_id.in_(self._stored_ids(current)))
        if ticket_id is not None:
            stmt = stmt.where(Resolution.ticket_id == ticket_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.db.session() as session:
            return [_resolution(row, True) for row in session.execute(stmt).scalars()]

    def _stored_ids(self, current: str) -> list[str]:
        """Every id records may carry for an article: its id now and ids it had before (aliases)."""
        with self.db.session() as session:
            stored = session.execute(select(Resolution.article_id).distinct()).scalars().all()
        return [s for s in stored if s == current or self.resolve(s) == current] or [current]

    # -- tickets closed without an article -------------------------------------------------------
    def record_closed_without_article(self, *, ticket_id: object, category: object, ticket_system: object = None,
                                      user: object = "", note: object = "", source: str = "api",
                                      when: dt.datetime | None = None) -> ClosedTicketRecord:
        """Record a ticket closed with no article; idempotent, ConflictError on another category."""
        values = {
            "ticket_system": v.ticket_system(ticket_system),
            "ticket_id": v.ticket_id(ticket_id),
            "category": v.category(category, self.categories),
            "user": v.user(user),
            "closed_at": when or self.clock(),
            "source": v.source(source),
            "note": v.note(note),
        }
        with self.db.session(write=True) as session:
            stmt = _insert(self.db.dialect)(ClosedTicket).values(**values)
            stmt = stmt.on_conflict_do_nothing(index_elements=["ticket_system", "ticket_id"]).returning(  # type: ignore[attr-defined]
                ClosedTicket.id)
            new_id = session.execute(stmt).scalar_one_or_none()
            row = session.execute(select(ClosedTicket).where(
                ClosedTicket.ticket_system == values["ticket_system"],
                ClosedTicket.ticket_id == values["ticket_id"])).scalar_one()
            if new_id is None and row.category != values["category"]:
                raise ConflictError(f"ticket {row.ticket_id} is already recorded as closed with category "
                                    f"{row.category!r}, not {values['category']!r}; the record was not changed")
            return _closed(row, created=new_id is not None)

    # -- flags -----------------------------------------------------------------------------
    def flag_article(self, *, article: object, reason: object, user: object = "") -> FlagRecord:
        """Flag an article as wrong or outdated."""
        reason_text = v.note(reason, "reason")
        if not reason_text:
            raise InvalidRecordError("reason is required: say what is wrong or outdated")
        row = Flag(article_id=self.article_id(article), reason=reason_text, user=v.user(user),
                   created_at=self.clock(), status="open")
        with self.db.session(write=True) as session:
            session.add(row)
            session.flush()
            return _flag(row)

    def close_flag(self, flag_id: int, *, user: object = "") -> FlagRecord:
        """Mark a flag done."""
        with self.db.session(write=True) as session:
            row = session.get(Flag, flag_id)
            if row is None:
                raise InvalidRecordError(f"no flag with id {flag_id}")
            if row.status != "done":
                row.status, row.done_at, row.done_by = "done", self.clock(), v.user(user)
                session.flush()
            return _flag(row)

    def flags(self, article_id: str | None = None, status: str | None = "open") -> list[FlagRecord]:
        """Flags, newest first, optionally for one article and one status."""
        stmt = select(Flag).order_by(Flag.created_at.desc(), Flag.id.desc())
        if status is not None:
            stmt = stmt.where(Flag.status == status)
        with self.db.session() as session:
            rows = [_flag(r) for r in session.execute(stmt).scalars()]
        if article_id is not None:
            current = self.resolve(article_id) or article_id
            rows = [r for r in rows if (self.resolve(r.article_id) or r.article_id) == current]
        return rows

    # -- search log and feedback -------------------------------------------------------------
    def log_search(self, query: str, filters: Mapping[str, Sequence[str]], result_count: int) -> int:
        """Log one search; returns its id (for a later click or feedback)."""
        text = query.strip()[: v.MAX_QUERY]
        clean = {str(k): [str(x) for x in vals] for k, vals in filters.items() if vals}
        row = SearchLogEntry(query=text, filters=json.dumps(clean, ensure_ascii=False, sort_keys=True),
                             result_count=max(0, int(result_count)), created_at=self.clock())
        with self.db.session(write=True) as session:
            session.add(row)
            session.flush()
            return row.id

    def log_click(self, search_id: int, article: object) -> None:
        """Remember which result a search led to."""
        article_id = self.article_id(article)
        with self.db.session(write=True) as session:
            session.execute(update(SearchLogEntry).where(SearchLogEntry.id == search_id)
                            .values(clicked_article_id=article_id))

    def purge_search_log(self, retention_days: int) -> int:
        """Delete searches older than the retention; returns how many."""
        cutoff = self.clock() - dt.timedelta(days=retention_days)
        with self.db.session(write=True) as session:
            result = session.execute(delete(SearchLogEntry).where(SearchLogEntry.created_at < cutoff))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def record_feedback(self, *, article: object, helpful: object, search_id: int | None = None,
                        ticket_id: object = None, ticket_system: object = None, user: object = "",
                        comment: object = "") -> int:
        """Record whether an article helped, with the search or ticket it came from; returns its id."""
        if not isinstance(helpful, bool):
            raise InvalidRecordError("helpful must be true or false")
        ticket = v.ticket_id(ticket_id) if ticket_id not in (None, "") else None
        row = Feedback(article_id=self.article_id(article), helpful=helpful, search_id=search_id,
                       ticket_system=v.ticket_system(ticket_system) if ticket else None, ticket_id=ticket,
                       user=v.user(user), comment=v.note(comment, "comment"), created_at=self.clock())
        with self.db.session(write=True) as session:
            if search_id is not None and session.get(SearchLogEntry, search_id) is None:
                raise InvalidRecordError(f"no search with id {search_id} (it may have passed the retention period)")
            session.add(row)
            session.flush()
            return row.id
