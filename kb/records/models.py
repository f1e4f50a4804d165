"""The records tables. Records name articles by id (never by path), so they survive renames."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

RELATIONS = ("resolved", "referenced", "created_from")
SOURCES = ("web", "api", "cli", "import")
FLAG_STATUSES = ("open", "done")
SEARCH_SOURCES = ("web", "api", "suggest", "typed")  # typed: a suggestion picked while typing

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone, so UTC is implied)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Resolution(Base):
    """An article that resolved (or was referenced by, or written from) a ticket."""

    __tablename__ = "resolutions"
    __table_args__ = (
        UniqueConstraint("ticket_system", "ticket_id", "article_id", "relation", name="uq_resolutions_key"),
        CheckConstraint(_in("relation", RELATIONS), name="relation"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        Index("ix_resolutions_article", "article_id", "created_at"),
        Index("ix_resolutions_category", "category", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_system: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[str] = mapped_column(String(64))
    article_id: Mapped[str] = mapped_column(String(200))
    relation: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(200))
    user: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    # When the ticket was opened (optional): an article born before it makes the ticket "known".
    ticket_opened: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The ticket's subject (optional): words users used, fed into the article's ranking.
    subject: Mapped[str] = mapped_column(String(500), default="", server_default="")


class ClosedTicket(Base):
    """A ticket closed without any article: the other half of the link rate."""

    __tablename__ = "closed_tickets"
    __table_args__ = (
        UniqueConstraint("ticket_system", "ticket_id", name="uq_closed_tickets_key"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        Index("ix_closed_tickets_category", "category", "closed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_system: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(200))
    user: Mapped[str] = mapped_column(String(200))
    closed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")


class Flag(Base):
    """Someone says an article is wrong or outdated; open until its owner marks it done."""

    __tablename__ = "flags"
    __table_args__ = (
        CheckConstraint(_in("status", FLAG_STATUSES), name="status"),
        Index("ix_flags_status", "status", "article_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    user: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(10), default="open")
    done_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class SearchLogEntry(Base):
    """One search: the query, its filters, how many results, and which one was opened."""

    __tablename__ = "search_log"
    __table_args__ = (
        Index("ix_search_log_created_at", "created_at"),
        Index("ix_search_log_zero", "result_count", "query"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query: Mapped[str] = mapped_column(String(500))
    filters: Mapped[str] = mapped_column(Text, default="{}")  # JSON object: name -> [values]
    result_count: Mapped[int] = mapped_column(Integer)
    clicked_article_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(10), default="web", server_default="web")  # SEARCH_SOURCES
    user: Mapped[str] = mapped_column(String(200), default="", server_default="")


class Feedback(Base):
    """Was an article helpful, with the search or ticket it came from."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_article", "article_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(String(200))
    helpful: Mapped[bool] = mapped_column(Boolean)
    search_id: Mapped[int | None] = mapped_column(ForeignKey("search_log.id", ondelete="SET NULL"), nullable=True)
    ticket_system: Mapped[str | None] = mapped_column(String(40), nullable=True)
    ticket_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user: Mapped[str] = mapped_column(String(200), default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class PushEvent(Base):
    """A push the git host announced through the webhook; every machine's `kb sync --watch` acts on new ones."""

    __tablename__ = "push_events"
    __table_args__ = (Index("ix_push_events_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    host: Mapped[str] = mapped_column(String(20))  # github, gitea or gitlab
    ref: Mapped[str] = mapped_column(String(200), default="")
    commit: Mapped[str] = mapped_column(String(64), default="")
    delivery: Mapped[str] = mapped_column(String(100), default="")


class LinkReview(Base):
    """A coach's mark on one linked ticket, from a Process Alignment Review sample: was the link right?"""

    __tablename__ = "link_reviews"
    __table_args__ = (UniqueConstraint("resolution_id", name="uq_link_reviews_resolution_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resolution_id: Mapped[int] = mapped_column(ForeignKey("resolutions.id", ondelete="CASCADE"))
    correct: Mapped[bool] = mapped_column(Boolean)
    reviewer: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class OnboardingProgress(Base):
    """One step of an onboarding path a known person has done."""

    __tablename__ = "onboarding_progress"
    __table_args__ = (UniqueConstraint("user", "path_id", "article_id", name="uq_onboarding_progress_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(200))
    path_id: Mapped[str] = mapped_column(String(200))
    article_id: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Notification(Base):
    """A notification already sent (kind and key), so a periodic one goes out once per period."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_notifications_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
