"""Fixtures for the records tests: every records test runs against SQLite and PostgreSQL.

PostgreSQL comes from KB_TEST_POSTGRES_URL (scripts/test starts the server and sets it).
Locally a missing server skips those tests; in CI (CI=true) it fails them. Each test
gets a fresh schema, dropped afterwards. This module holds no tests of its own.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kb.records.articles import ArticleIds
from kb.records.db import Database
from kb.records.store import RecordStore

POSTGRES_ENV = "KB_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
CATEGORIES = frozenset({"network", "network/vpn", "email", "email/outlook"})


def postgres_url_or_skip() -> str:
    """The test server's URL; skip locally, fail in CI, when there is none or it is down."""
    url = os.environ.get(POSTGRES_ENV, "")
    problem = None
    if not url:
        problem = f"{POSTGRES_ENV} is not set (scripts/test sets it)"
    else:
        try:
            engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as exc:  # any failure to reach the server means: no PostgreSQL here
            problem = f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} is unreachable: {exc}"
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs PostgreSQL for the records tests: {problem}")
        pytest.skip(problem)
    return url


def make_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL for one backend (a new schema on PostgreSQL)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.db'}"
        return
    base = make_url(postgres_url_or_skip()).set(drivername="postgresql+psycopg")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty records database URL, once for SQLite and once for PostgreSQL."""
    yield from make_database_url(request.param, tmp_path)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The records database, migrated."""
    db = Database(database_url)
    db.upgrade()
    yield db
    db.dispose()


class Article:
    """A stand-in with the fields the records layer reads."""

    def __init__(self, id: str, title: str = "", categories: tuple[str, ...] = (), aliases: tuple[str, ...] = (),
                 state: str = "validated", owner: str = "", review_due: dt.date | None = None) -> None:
        self.id, self.title, self.path = id, title or id, f"en/{id}.md"
        self.categories, self.aliases, self.state = categories, aliases, state
        self.owner, self.review_due = owner, review_due


ARTICLES = [
    Article("vpn-error-809", "VPN error 809", ("network/vpn",), aliases=("vpn-809-old", "en/old-vpn.md")),
    Article("vpn-dns", "DNS on VPN", ("network/vpn",), review_due=dt.date(2026, 1, 1), owner="net"),
    Article("outlook-password", "Outlook asks for a password", ("email/outlook",)),
    Article("outlook-ost", "Damaged OST", ("email/outlook",), state="archived"),
    Article("mail-ndr", "NDR 5.1.10", ("email",)),
]


@pytest.fixture
def store(database: Database) -> RecordStore:
    """A store over the stand-in articles with a fixed clock."""
    return RecordStore(database, ArticleIds.from_articles(ARTICLES).resolve, CATEGORIES, clock=lambda: NOW)
