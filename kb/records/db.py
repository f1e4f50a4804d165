"""The records database: one engine per process, created on first use, and its schema.

SQLite (the default) is tuned for several gunicorn workers writing at once: WAL, a busy
timeout, `synchronous=FULL`, and `BEGIN IMMEDIATE` for every write transaction so two
writers queue on the lock instead of failing half-way. PostgreSQL is used when the URL
names it. No connection is opened until a request needs one, and a forked child never
reuses its parent's connections.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kb.records.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "kb_write"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not open transactions by itself: the "begin" hook below does it,
    # so a write can take the lock up front (BEGIN IMMEDIATE) instead of on first write.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, with kb's connection settings."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    raise DatabaseUnavailableError(
        f"KB_DATABASE_URL must be a sqlite:/// or postgresql:// URL, got {parsed.get_backend_name()}:")


class Database:
    """The records database of one URL: the engine on first use, sessions for reading and writing."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._pid: int | None = None
        self._schema_ready = False
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The engine of this process (a forked child makes its own, never sharing sockets)."""
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                if self._engine is not None:
                    self._engine.dispose(close=False)  # the parent's connections stay the parent's
                    self._schema_ready = False
                self._engine = make_engine(self.url)
                self._pid = os.getpid()
            return self._engine

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return make_url(self.url).get_backend_name()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (safe to run from several processes at once)."""
        from kb.records.migrate import upgrade

        upgrade(self)
        self._schema_ready = True

    def ensure_schema(self) -> None:
        """Run the migrations once per process, on first use."""
        if not self._schema_ready:
            self.upgrade()

    @contextmanager
    def connect(self, write: bool = False) -> Iterator[Connection]:
        """A connection in a transaction, committed at the end (a write takes the lock at once)."""
        try:
            with self.engine.connect() as conn:
                if write:
                    conn = conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise DatabaseUnavailableError(f"records database {self.safe_url()}: {exc.orig}") from exc

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """An ORM session in one transaction, committed when the block ends without an error."""
        self.ensure_schema()
        with self.connect(write) as conn, Session(bind=conn, expire_on_commit=False) as session:
            yield session
            session.flush()

    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        """Close every pooled connection (tests, and before a process exits)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None
