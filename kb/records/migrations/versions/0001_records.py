"""Records: resolutions, closed tickets without an article, flags, search log, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _stamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "resolutions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_system", sa.String(40), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("relation", sa.String(20), nullable=False),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.UniqueConstraint("ticket_system", "ticket_id", "article_id", "relation", name="uq_resolutions_key"),
        sa.CheckConstraint("relation IN ('resolved', 'referenced', 'created_from')", name="ck_resolutions_relation"),
        sa.CheckConstraint("source IN ('web', 'api', 'cli', 'import')", name="ck_resolutions_source"),
    )
    op.create_index("ix_resolutions_article", "resolutions", ["article_id", "created_at"])
    op.create_index("ix_resolutions_category", "resolutions", ["category", "created_at"])
    op.create_table(
        "closed_tickets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_system", sa.String(40), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("closed_at", _stamp(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.UniqueConstraint("ticket_system", "ticket_id", name="uq_closed_tickets_key"),
        sa.CheckConstraint("source IN ('web', 'api', 'cli', 'import')", name="ck_closed_tickets_source"),
    )
    op.create_index("ix_closed_tickets_category", "closed_tickets", ["category", "closed_at"])
    op.create_table(
        "flags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("done_at", _stamp(), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.CheckConstraint("status IN ('open', 'done')", name="ck_flags_status"),
    )
    op.create_index("ix_flags_status", "flags", ["status", "article_id"])
    op.create_table(
        "search_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("query", sa.String(500), nullable=False),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.Column("clicked_article_id", sa.String(200), nullable=True),
        sa.Column("created_at", _stamp(), nullable=False),
    )
    op.create_index("ix_search_log_created_at", "search_log", ["created_at"])
    op.create_index("ix_search_log_zero", "search_log", ["result_count", "query"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("search_id", sa.Integer(),
                  sa.ForeignKey("search_log.id", ondelete="SET NULL", name="fk_feedback_search_id_search_log"),
                  nullable=True),
        sa.Column("ticket_system", sa.String(40), nullable=True),
        sa.Column("ticket_id", sa.String(64), nullable=True),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
    )
    op.create_index("ix_feedback_article", "feedback", ["article_id"])


def downgrade() -> None:
    for table in ("feedback", "search_log", "flags", "closed_tickets", "resolutions"):
        op.drop_table(table)
