"""The knowledge loop: ticket opening and subject, where a search came from, link reviews,
onboarding progress per person, and notifications already sent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _stamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("resolutions") as batch:
        batch.add_column(sa.Column("ticket_opened", _stamp(), nullable=True))
        batch.add_column(sa.Column("subject", sa.String(500), nullable=False, server_default=""))
    with op.batch_alter_table("search_log") as batch:
        batch.add_column(sa.Column("source", sa.String(10), nullable=False, server_default="web"))
        batch.add_column(sa.Column("user", sa.String(200), nullable=False, server_default=""))
    op.create_table(
        "link_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("resolution_id", sa.Integer(),
                  sa.ForeignKey("resolutions.id", ondelete="CASCADE", name="fk_link_reviews_resolution_id_resolutions"),
                  nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.UniqueConstraint("resolution_id", name="uq_link_reviews_resolution_id"),
    )
    op.create_table(
        "onboarding_progress",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("path_id", sa.String(200), nullable=False),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("done_at", _stamp(), nullable=False),
        sa.UniqueConstraint("user", "path_id", "article_id", name="uq_onboarding_progress_key"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("sent_at", _stamp(), nullable=False),
        sa.UniqueConstraint("kind", "key", name="uq_notifications_key"),
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("onboarding_progress")
    op.drop_table("link_reviews")
    with op.batch_alter_table("search_log") as batch:
        batch.drop_column("user")
        batch.drop_column("source")
    with op.batch_alter_table("resolutions") as batch:
        batch.drop_column("subject")
        batch.drop_column("ticket_opened")
