"""The records store on SQLite and PostgreSQL: idempotent recording, conflicts, aliases, validation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb.records.articles import ArticleIds
from kb.records.db import Database
from kb.records.errors import ConflictError, InvalidRecordError, UnknownArticleError
from kb.records.migrate import current_revision
from kb.records.models import ClosedTicket, Feedback, Resolution, SearchLogEntry
from kb.records.store import RecordStore
from tests import test_records_fixtures as fx

database_url = fx.database_url
database = fx.database
store = fx.store


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_upgrade_is_repeatable_and_reaches_head(database: Database) -> None:
    database.upgrade()
    assert current_revision(database) == "0003"


def test_migrations_match_the_models(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from kb.records.models import Base

    with database.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if d[0] != "remove_table"] == []


def test_recording_twice_is_one_record_and_says_so(store: RecordStore) -> None:
    first = store.record_resolution(article="vpn-error-809", ticket_id="INC-1", category="network/vpn", user="ann")
    again = store.record_resolution(article="vpn-error-809", ticket_id="INC-1", category="network/vpn", user="bob")
    assert first.created and not again.created
    assert again.id == first.id and again.user == "ann"
    assert count(store.db, Resolution) == 1


def test_another_relation_is_another_record(store: RecordStore) -> None:
    store.record_resolution(article="vpn-error-809", ticket_id="INC-1", category="network/vpn")
    store.record_resolution(article="vpn-error-809", ticket_id="INC-1", category="network/vpn", relation="referenced")
    assert count(store.db, Resolution) == 2


def test_same_key_with_another_category_is_a_conflict_and_changes_nothing(store: RecordStore) -> None:
    store.record_resolution(article="vpn-error-809", ticket_id="INC-1", category="network/vpn")
    with pytest.raises(ConflictError, match="'network/vpn', not 'network'"):
        store.record_resolution(article="vpn-error-809", ticket_id="INC-1", category="network")
    [row] = store.resolutions()
    assert row.category == "network/vpn"


def test_alias_and_old_path_resolve_to_the_current_id(store: RecordStore) -> None:
    a = store.record_resolution(article="VPN-809-OLD", ticket_id="INC-1", category="network/vpn")
    b = store.record_resolution(article="en/old-vpn", ticket_id="INC-1", category="network/vpn")
    assert a.article_id == b.article_id == "vpn-error-809"
    assert not b.created


def test_records_survive_an_id_change_with_an_alias(database: Database) -> None:
    before = RecordStore(database, ArticleIds.from_articles([fx.Article("old-id")]).resolve)
    before.record_resolution(article="old-id", ticket_id="INC-7", category="email")
    renamed = fx.Article("new-id", aliases=("old-id",))
    after = RecordStore(database, ArticleIds.from_articles([renamed]).resolve)
    assert [r.ticket_id for r in after.resolutions(article_id="new-id")] == ["INC-7"]
    assert after.record_resolution(article="old-id", ticket_id="INC-8", category="email").article_id == "new-id"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("article", "no-such-article", "unknown article"),
    ("article", "", "article is required"),
    ("ticket_id", "", "ticket_id is required"),
    ("ticket_id", "INC 1; DROP TABLE", "malformed"),
    ("ticket_id", "x" * 65, "malformed"),
    ("ticket_id", "-1", "malformed"),
    ("ticket_id", ["INC-1"], "must be a string"),
    ("category", "", "category is required"),
    ("category", "printers", "unknown category"),
    ("category", "../etc", "malformed"),
    ("relation", "fixed", "not one of"),
    ("ticket_system", "Jira Cloud", "malformed"),
    ("note", "x" * 2001, "longer than"),
    ("user", "a\x00b", "control characters"),
])
def test_invalid_input_is_refused_and_nothing_is_stored(store: RecordStore, field: str, value: object,
                                                         message: str) -> None:
    fields: dict[str, object] = {"article": "vpn-error-809", "ticket_id": "INC-1", "category": "network/vpn"}
    fields[field] = value
    with pytest.raises(InvalidRecordError, match=message):
        store.record_resolution(**fields)  # type: ignore[arg-type]
    assert count(store.db, Resolution) == 0


def test_unknown_article_is_its_own_error(store: RecordStore) -> None:
    with pytest.raises(UnknownArticleError):
        store.record_resolution(article="nope", ticket_id="INC-1", category="email")


def test_numeric_ticket_ids_and_ticket_systems_are_normalised(store: RecordStore) -> None:
    record = store.record_resolution(article="mail-ndr", ticket_id=12345, category="EMAIL", ticket_system="Jira")
    assert (record.ticket_id, record.category, record.ticket_system) == ("12345", "email", "jira")


def test_closed_without_article_is_idempotent_with_conflicts(store: RecordStore) -> None:
    assert store.record_closed_without_article(ticket_id="INC-9", category="email").created
    assert not store.record_closed_without_article(ticket_id="INC-9", category="email").created
    with pytest.raises(ConflictError):
        store.record_closed_without_article(ticket_id="INC-9", category="network")
    assert count(store.db, ClosedTicket) == 1


def test_flags_open_and_close(store: RecordStore) -> None:
    flag = store.flag_article(article="vpn-809-old", reason="Step 2 is wrong on Windows 11", user="ann")
    assert flag.article_id == "vpn-error-809" and flag.status == "open"
    assert [f.id for f in store.flags(article_id="vpn-error-809")] == [flag.id]
    done = store.close_flag(flag.id, user="net")
    assert done.status == "done" and done.done_by == "net"
    assert store.flags() == []
    with pytest.raises(InvalidRecordError, match="reason is required"):
        store.flag_article(article="vpn-dns", reason="  ")


def test_search_log_clicks_and_retention(database: Database) -> None:
    clock = {"now": fx.NOW - dt.timedelta(days=100)}
    store = RecordStore(database, ArticleIds.from_articles(fx.ARTICLES).resolve, clock=lambda: clock["now"])
    old = store.log_search("打印机 离线", {"category": ["printers"]}, 0)
    clock["now"] = fx.NOW
    new = store.log_search("vpn 809", {}, 3)
    store.log_click(new, "vpn-error-809")
    assert store.purge_search_log(retention_days=90) == 1
    with database.session() as session:
        rows = session.execute(select(SearchLogEntry)).scalars().all()
        assert [(r.id, r.clicked_article_id) for r in rows] == [(new, "vpn-error-809")]
    assert old != new


def test_feedback_links_to_a_search_or_a_ticket(store: RecordStore) -> None:
    search = store.log_search("outlook password", {}, 2)
    store.record_feedback(article="outlook-password", helpful=True, search_id=search)
    store.record_feedback(article="outlook-password", helpful=False, ticket_id="INC-3", comment="did not work")
    with pytest.raises(InvalidRecordError, match="true or false"):
        store.record_feedback(article="outlook-password", helpful="yes")
    assert count(store.db, Feedback) == 2


def test_timestamps_come_back_in_utc(store: RecordStore) -> None:
    store.record_resolution(article="mail-ndr", ticket_id="INC-1", category="email",
                            when=dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    [row] = store.resolutions()
    assert row.created_at == dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)
    assert row.created_at.tzinfo is not None


def test_sqlite_runs_with_wal_and_full_sync(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/r.db")
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    db.dispose()


def test_no_connection_is_opened_until_first_use(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/lazy/r.db")
    assert not (tmp_path / "lazy").exists()
    with db.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert (tmp_path / "lazy" / "r.db").exists()
    db.dispose()


@pytest.mark.parametrize("url", ["", "postgresql://nobody:x@127.0.0.1:1/none"])
def test_postgres_tests_fail_in_ci_and_skip_locally_without_a_server(monkeypatch: pytest.MonkeyPatch,
                                                                      url: str) -> None:
    monkeypatch.setenv(fx.POSTGRES_ENV, url)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI needs PostgreSQL"):
        fx.postgres_url_or_skip()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        fx.postgres_url_or_skip()


def test_a_database_from_a_newer_kb_is_reported_not_crashed_on(database: Database) -> None:
    from kb.records.errors import DatabaseUnavailableError

    with database.connect(write=True) as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    fresh = Database(database.url)
    with pytest.raises(DatabaseUnavailableError, match="newer version of kb"):
        fresh.upgrade()
    fresh.dispose()
