"""Alembic, run from code: `Database.upgrade()` and `kb db upgrade` call `upgrade`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import text

from kb.records.errors import DatabaseUnavailableError

if TYPE_CHECKING:
    from kb.records.db import Database

# Any constant: PostgreSQL sessions running migrations at the same moment queue on this lock.
MIGRATION_LOCK_KEY = 0x6B62_7265_636F_7264 % (2**63)


def alembic_config(db: Database) -> Config:
    """An Alembic configuration pointing at kb's migrations and this database."""
    from kb.records.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every migration not yet applied, in one transaction that holds the write lock."""
    config = alembic_config(db)
    with db.connect(write=True) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = conn
        try:
            command.upgrade(config, revision)
        except CommandError as exc:  # e.g. the database was migrated by a newer kb
            raise DatabaseUnavailableError(f"cannot migrate the records database {db.safe_url()}: {exc}; "
                                           "is it used by a newer version of kb?") from exc


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with db.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
