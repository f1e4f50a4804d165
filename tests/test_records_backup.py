"""`kb export` / `kb import`: every records table as JSON lines, a round trip that loses nothing."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kb.records.backup import export_records, import_records
from kb.records.db import Database
from kb.records.errors import InvalidRecordError
from kb.records.hooks import record_push
from kb.records.models import Base
from kb.records.store import RecordStore
from kbcli.main import cli
from tests import test_records_fixtures as fx

database_url = fx.database_url
database = fx.database
store = fx.store


def fill(store: RecordStore) -> None:
    """A row in every table, with the awkward values: unicode, nulls, microseconds, a foreign key."""
    first = store.record_resolution(
        article="vpn-error-809", ticket_id="INC-1", category="network/vpn", user="ann", note="换了 IKEv2 ✓",
        when=dt.datetime(2026, 10, 3, 8, 15, 30, 123456, tzinfo=dt.UTC), subject="VPN 断线",
        ticket_opened=dt.datetime(2026, 10, 3, 7, 0, tzinfo=dt.UTC))
    store.review_link(first.id, correct=True, reviewer="coach", note="right one")
    store.mark_onboarding_step(user="newbie", path_id="basics", article="vpn-error-809")
    store.claim_notification("review-due", "2026-W45")
    store.record_resolution(article="mail-ndr", ticket_id="INC-2", category="email", relation="referenced",
                            ticket_system="jira", source="web")
    store.record_closed_without_article(ticket_id="INC-3", category="email/outlook", user="bob", note="no article")
    flag = store.flag_article(article="vpn-dns", reason="outdated \"DNS\" steps\nsecond line", user="cy")
    store.flag_article(article="mail-ndr", reason="typo", user="dee")
    store.close_flag(flag.id, user="net")
    search_id = store.log_search("vpn 809", {"category": ["network/vpn"]}, 3)
    store.log_click(search_id, "vpn-error-809")
    store.log_search("打印机", {}, 0)
    store.record_feedback(article="vpn-error-809", helpful=True, search_id=search_id, user="ann")
    store.record_feedback(article="mail-ndr", helpful=False, ticket_id="INC-2", ticket_system="jira", comment="old")
    record_push(store.db, "github", "refs/heads/main", "a" * 40, "delivery-1", fx.NOW)


def dump(db: Database) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, as the database returns them."""
    with db.connect() as conn:
        return {t.name: [dict(r) for r in conn.execute(select(t).order_by(t.c.id)).mappings()]
                for t in Base.metadata.sorted_tables}


def export_text(db: Database) -> str:
    out = io.StringIO()
    export_records(db, out)
    return out.getvalue()


@pytest.fixture
def second_database(tmp_path: Path) -> Iterator[Database]:
    """Another empty database, on SQLite (the cross-backend restore target)."""
    db = Database(f"sqlite:///{tmp_path / 'restored.db'}")
    yield db
    db.dispose()


def test_round_trip_into_the_same_backend_loses_nothing(store: RecordStore, database_url: str,
                                                         tmp_path: Path) -> None:
    fill(store)
    exported = export_text(store.db)
    original = dump(store.db)
    assert all(original[t.name] for t in Base.metadata.sorted_tables)  # every table has rows
    # The same backend, a fresh database: a new schema on PostgreSQL, a new file on SQLite.
    for url in fx.make_database_url(database_url.split(":")[0].split("+")[0], tmp_path / "restore"):
        restored = Database(url)
        try:
            counts = import_records(restored, io.StringIO(exported))
            assert counts == {name: len(rows) for name, rows in original.items()}
            assert dump(restored) == original
            assert export_text(restored) == exported
            # New rows continue after the imported ids (PostgreSQL sequences were moved).
            again = RecordStore(restored, store.resolve, fx.CATEGORIES, clock=lambda: fx.NOW)
            created = again.record_resolution(article="vpn-dns", ticket_id="INC-9", category="network/vpn")
            assert created.id == max(r["id"] for r in original["resolutions"]) + 1  # type: ignore[type-var]
        finally:
            restored.dispose()


def test_round_trip_across_backends_gives_the_same_export(store: RecordStore, second_database: Database) -> None:
    fill(store)
    exported = export_text(store.db)
    import_records(second_database, io.StringIO(exported))
    assert export_text(second_database) == exported


def test_import_refuses_a_database_that_has_records(store: RecordStore) -> None:
    fill(store)
    exported = export_text(store.db)
    with pytest.raises(InvalidRecordError, match="already holds"):
        import_records(store.db, io.StringIO(exported))


def test_import_refuses_what_is_not_an_export(second_database: Database) -> None:
    with pytest.raises(InvalidRecordError, match="header"):
        import_records(second_database, io.StringIO('{"table": "flags", "row": {}}\n'))
    header = json.dumps({"format": "kb-records", "version": 1}) + "\n"
    with pytest.raises(InvalidRecordError, match="line 2: flags has no column"):
        import_records(second_database, io.StringIO(header + '{"table": "flags", "row": {"colour": 1}}\n'))


def test_export_and_import_commands(store: RecordStore, tmp_path: Path) -> None:
    fill(store)
    backup = tmp_path / "records.jsonl"
    runner = CliRunner()
    exported = runner.invoke(cli, ["export", str(backup)], env={"KB_DATABASE_URL": store.db.url})
    assert exported.exit_code == 0, exported.output
    assert "2 resolutions" in exported.output
    target = f"sqlite:///{tmp_path / 'new.db'}"
    imported = runner.invoke(cli, ["import", str(backup)], env={"KB_DATABASE_URL": target})
    assert imported.exit_code == 0, imported.output
    assert "1 push_events" in imported.output and imported.output.endswith("imported\n")
    twice = runner.invoke(cli, ["import", str(backup)], env={"KB_DATABASE_URL": target})
    assert twice.exit_code == 2 and "already holds" in twice.output
    restored = Database(target)
    try:
        assert export_text(restored) == backup.read_text(encoding="utf-8")
    finally:
        restored.dispose()
