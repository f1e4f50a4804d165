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

from sqlalchemy import Insert, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from kb.clock import Clock, utc_now
from kb.records import validation as v
from kb.records.articles import Resolver
from kb.records.db import Database
from kb.records.errors import ConflictError, InvalidRecordError, UnknownArticleError
from kb.records.models import (
    SEARCH_SOURCES,
    ClosedTicket,
    Feedback,
    Flag,
    LinkReview,
    Notification,
    OnboardingProgress,
    Resolution,
    SearchLogEntry,
)

# A lock key per ticket on PostgreSQL, so two spellings of one ticket recorded at once queue.
_TICKET_LOCK = "SELECT pg_advisory_xact_lock(hashtext(:key))"


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
    ticket_opened: dt.datetime | None = None
    subject: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (timestamps in ISO 8601)."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["ticket_opened"] = self.ticket_opened.isoformat() if self.ticket_opened else None
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
    created: bool = True  # False when the same person had already flagged it for the same reason


@dataclass(frozen=True)
class DuplicateTicket:
    """One ticket stored under several spellings (before ticket ids compared case-insensitively)."""

    ticket_system: str
    spellings: tuple[str, ...]
    table: str


def _insert(dialect: str) -> Callable[[Any], Insert]:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _resolution(row: Resolution, created: bool) -> ResolutionRecord:
    return ResolutionRecord(row.id, row.ticket_system, row.ticket_id, row.article_id, row.relation, row.category,
                            row.user, row.created_at, row.source, row.note, created, row.ticket_opened,
                            row.subject or "")


def _closed(row: ClosedTicket, created: bool) -> ClosedTicketRecord:
    return ClosedTicketRecord(row.id, row.ticket_system, row.ticket_id, row.category, row.user, row.closed_at,
                              row.source, row.note, created)


def _flag(row: Flag, created: bool = True) -> FlagRecord:
    return FlagRecord(row.id, row.article_id, row.reason, row.user, row.created_at, row.status, row.done_at,
                      row.done_by, created)


def _reason_key(reason: str) -> str:
    return " ".join(reason.casefold().split())


class RecordStore:
    """The records of one database, checked against one set of articles and categories."""

    def __init__(self, db: Database, resolve: Resolver, categories: Collection[str] | None = None,
                 clock: Clock = utc_now, fold_ticket_case: bool = True) -> None:
        """`fold_ticket_case` (KB_TICKET_ID_CASE=insensitive): SD-1 and sd-1 are one ticket."""
        self.db = db
        self.resolve = resolve
        self.categories = categories
        self.clock = clock
        self.fold_ticket_case = fold_ticket_case

    def _ticket_spelling(self, session: Any, model: type[Resolution] | type[ClosedTicket], system: str,
                         ticket: str) -> str:
        """The spelling a ticket is already stored under (case folded), or `ticket` when it is new."""
        if not self.fold_ticket_case:
            return ticket
        if self.db.dialect == "postgresql":
            session.execute(text(_TICKET_LOCK), {"key": f"{model.__tablename__}:{system}:{ticket.lower()}"})
        found = session.execute(select(model.ticket_id).where(
            model.ticket_system == system, func.lower(model.ticket_id) == ticket.lower()
        ).order_by(model.id).limit(1)).scalar_one_or_none()
        return str(found) if found is not None else ticket

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
                          ticket_opened: dt.datetime | None = None, subject: object = "",
                          ) -> ResolutionRecord:
        """Record that an article resolved a ticket; idempotent, ConflictError on another category.

        `ticket_opened` (when the ticket was opened) tells new from known; `subject` (the ticket's
        subject line) becomes words the article is found by.
        """
        if ticket_opened is not None and ticket_opened.tzinfo is None:
            raise InvalidRecordError("ticket_opened needs a time zone")
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
            "ticket_opened": ticket_opened,
            "subject": v.note(subject, "subject", v.MAX_SUBJECT),
        }
        key = ("ticket_system", "ticket_id", "article_id", "relation")
        with self.db.session(write=True) as session:
            values["ticket_id"] = self._ticket_spelling(session, Resolution, str(values["ticket_system"]),
                                                        str(values["ticket_id"]))
            stmt = _insert(self.db.dialect)(Resolution).values(**values)
            stmt = stmt.on_conflict_do_nothing(index_elements=list(key)).returning(Resolution.id)  # type: ignore[attr-defined]
            new_id = session.execute(stmt).scalar_one_or_none()
            row = session.execute(select(Resolution).where(*(getattr(Resolution, k) == values[k] for k in key))
                                  ).scalar_one()
            if new_id is None and row.category != values["category"]:
                raise ConflictError(
                    f"ticket {row.ticket_id} is already recorded against {row.article_id} ({row.relation}) "
                    f"with category {row.category!r}, not {values['category']!r}; the record was not changed",
                    row.category)
            return _resolution(row, created=new_id is not None)

    def resolutions(self, article_id: str | None = None, ticket_id: str | None = None,
                    limit: int | None = None) -> list[ResolutionRecord]:
        """Stored resolutions, newest first, for one article (any of its ids) or one ticket."""
        stmt = select(Resolution).order_by(Resolution.created_at.desc(), Resolution.id.desc())
        if article_id is not None:
            current = self.resolve(article_id) or article_id
            stmt = stmt.where(Resolution.article_id.in_(self._stored_ids(current)))
        if ticket_id is not None:
            stmt = stmt.where(func.lower(Resolution.ticket_id) == ticket_id.lower() if self.fold_ticket_case
                              else Resolution.ticket_id == ticket_id)
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
            values["ticket_id"] = self._ticket_spelling(session, ClosedTicket, str(values["ticket_system"]),
                                                        str(values["ticket_id"]))
            stmt = _insert(self.db.dialect)(ClosedTicket).values(**values)
            stmt = stmt.on_conflict_do_nothing(index_elements=["ticket_system", "ticket_id"]).returning(  # type: ignore[attr-defined]
                ClosedTicket.id)
            new_id = session.execute(stmt).scalar_one_or_none()
            row = session.execute(select(ClosedTicket).where(
                ClosedTicket.ticket_system == str(values["ticket_system"]),
                ClosedTicket.ticket_id == values["ticket_id"])).scalar_one()
            if new_id is None and row.category != values["category"]:
                raise ConflictError(f"ticket {row.ticket_id} is already recorded as closed with category "
                                    f"{row.category!r}, not {values['category']!r}; the record was not changed",
                                    row.category)
            return _closed(row, created=new_id is not None)

    # -- flags -----------------------------------------------------------------------------
    def flag_article(self, *, article: object, reason: object, user: object = "") -> FlagRecord:
        """Flag an article as wrong or outdated; one open flag per person and reason (`created` False on a repeat)."""
        reason_text = v.note(reason, "reason")
        if not reason_text:
            raise InvalidRecordError("reason is required: say what is wrong or outdated")
        article_id, who = self.article_id(article), v.user(user)
        with self.db.session(write=True) as session:
            if self.db.dialect == "postgresql":
                session.execute(text(_TICKET_LOCK), {"key": f"flags:{article_id}:{who}"})
            for row in session.execute(select(Flag).where(Flag.article_id == article_id, Flag.user == who,
                                                          Flag.status == "open")).scalars():
                if _reason_key(row.reason) == _reason_key(reason_text):
                    return _flag(row, created=False)
            row = Flag(article_id=article_id, reason=reason_text, user=who, created_at=self.clock(), status="open")
            session.add(row)
            session.flush()
            return _flag(row)

    def flag(self, flag_id: int) -> FlagRecord | None:
        """One flag by its id."""
        with self.db.session() as session:
            row = session.get(Flag, flag_id)
            return _flag(row) if row is not None else None

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
    def log_search(self, query: str, filters: Mapping[str, Sequence[str]], result_count: int,
                   source: str = "web", user: str = "") -> int:
        """Log one search; returns its id (for a later click or feedback)."""
        if source not in SEARCH_SOURCES:
            raise InvalidRecordError(f"search source {source!r} is not one of {', '.join(SEARCH_SOURCES)}")
        text_ = query.strip()[: v.MAX_QUERY]
        clean = {str(k): [str(x) for x in vals] for k, vals in filters.items() if vals}
        row = SearchLogEntry(query=text_, filters=json.dumps(clean, ensure_ascii=False, sort_keys=True),
                             result_count=max(0, int(result_count)), created_at=self.clock(), source=source,
                             user=user.strip()[: v.MAX_USER])
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
        """Delete searches older than the retention (0 keeps all); returns how many."""
        if retention_days <= 0:
            return 0
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

    # -- link accuracy (Process Alignment Review) ----------------------------------------------
    def review_link(self, resolution_id: int, *, correct: bool, reviewer: object, note: object = "") -> None:
        """A coach marks one linked ticket right or wrong; marking again replaces the mark."""
        who = v.user(reviewer)
        if not who:
            raise InvalidRecordError("reviewer is required: say who marked the link")
        with self.db.session(write=True) as session:
            if session.get(Resolution, resolution_id) is None:
                raise InvalidRecordError(f"no resolution with id {resolution_id}")
            row = session.execute(select(LinkReview).where(LinkReview.resolution_id == resolution_id)
                                  ).scalar_one_or_none()
            if row is None:
                session.add(LinkReview(resolution_id=resolution_id, correct=correct, reviewer=who,
                                       note=v.note(note), created_at=self.clock()))
            else:
                row.correct, row.reviewer, row.note, row.created_at = correct, who, v.note(note), self.clock()

    # -- onboarding progress --------------------------------------------------------------------
    def mark_onboarding_step(self, *, user: object, path_id: str, article: object, done: bool = True) -> None:
        """A known person did (or un-did) one step of an onboarding path."""
        who = v.user(user)
        if not who:
            raise InvalidRecordError("onboarding progress is stored for a known user only")
        article_id = self.article_id(article)
        key = (OnboardingProgress.user == who, OnboardingProgress.path_id == path_id,
               OnboardingProgress.article_id == article_id)
        with self.db.session(write=True) as session:
            if not done:
                session.execute(delete(OnboardingProgress).where(*key))
                return
            stmt = _insert(self.db.dialect)(OnboardingProgress).values(
                user=who, path_id=path_id, article_id=article_id, done_at=self.clock())
            session.execute(stmt.on_conflict_do_nothing(  # type: ignore[attr-defined]
                index_elements=["user", "path_id", "article_id"]))

    def onboarding_done(self, user: str) -> dict[str, set[str]]:
        """Per path id, the article ids one person has done."""
        done: dict[str, set[str]] = {}
        with self.db.session() as session:
            for path_id, article_id in session.execute(
                    select(OnboardingProgress.path_id, OnboardingProgress.article_id)
                    .where(OnboardingProgress.user == user)):
                done.setdefault(path_id, set()).add(self.resolve(article_id) or article_id)
        return done

    # -- notifications ---------------------------------------------------------------------------
    def claim_notification(self, kind: str, key: str) -> bool:
        """True exactly once per (kind, key), across every worker and machine: send only then."""
        with self.db.session(write=True) as session:
            stmt = _insert(self.db.dialect)(Notification).values(kind=kind, key=key[:200], sent_at=self.clock())
            stmt = stmt.on_conflict_do_nothing(index_elements=["kind", "key"]).returning(  # type: ignore[attr-defined]
                Notification.id)
            return session.execute(stmt).scalar_one_or_none() is not None

    def release_notification(self, kind: str, key: str) -> None:
        """Give a claim back (the send failed), so the next attempt sends it."""
        with self.db.session(write=True) as session:
            session.execute(delete(Notification).where(Notification.kind == kind, Notification.key == key[:200]))

    def notification_sent(self, kind: str, key: str) -> bool:
        """True when (kind, key) was claimed already."""
        with self.db.session() as session:
            return session.execute(select(Notification.id).where(
                Notification.kind == kind, Notification.key == key[:200])).first() is not None

    # -- housekeeping ----------------------------------------------------------------------------
    def duplicate_tickets(self) -> list[DuplicateTicket]:
        """Tickets stored under more than one spelling (e.g. SD-2001 and sd-2001), to fix by hand."""
        found = []
        with self.db.session() as session:
            for model in (Resolution, ClosedTicket):
                spellings: dict[tuple[str, str], set[str]] = {}
                for system, ticket in session.execute(select(model.ticket_system, model.ticket_id).distinct()):
                    spellings.setdefault((system, ticket.lower()), set()).add(ticket)
                found += [DuplicateTicket(system, tuple(sorted(names)), model.__tablename__)
                          for (system, _), names in sorted(spellings.items()) if len(names) > 1]
        return found
