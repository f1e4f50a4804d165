"""Alembic environment: runs on the connection kb.records.migrate hands over."""

from __future__ import annotations

from alembic import context

from kb.records.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run kb's migrations with `kb db upgrade` (kb.records.migrate.upgrade)")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
# The caller already opened the transaction (holding the write lock); this joins it.
with context.begin_transaction():
    context.run_migrations()
