"""`kb link`, `kb import-resolutions`, `kb stats`, `kb boosts` and `kb db` through CliRunner, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from kb.records.db import Database
from kb.records.store import RecordStore
from kbcli.records_commands import COMMANDS
from tests import test_records_fixtures as fx
from tests.conftest import VALID_ARTICLE

database_url = fx.database_url


@click.group()
def cli() -> None:
    """The records commands as kbcli.main registers them."""


for command in COMMANDS:
    cli.add_command(command)


@pytest.fixture
def run(articles_dir: Path, database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str) -> Result:
        runner = CliRunner()
        env = {"KB_DATABASE_URL": database_url, "KB_ARTICLES_DIR": str(articles_dir),
               "KB_INDEX_DIR": str(tmp_path / "index"), "USER": "tester", "KB_SEMANTIC": "0"}  # records, not ranking
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def test_link_records_once_and_says_so(run) -> None:  # type: ignore[no-untyped-def]
    first = run("link", "vpn-error-809", "INC-1", "--category", "network/vpn")
    assert first.exit_code == 0, first.output
    assert "recorded: default/INC-1 resolved by vpn-error-809 (network/vpn)" in first.output
    again = run("link", "vpn-error-809", "INC-1", "--category", "network/vpn", "--user", "ann")
    assert again.exit_code == 0 and again.output.startswith("already recorded")


def test_link_conflict_and_bad_input_exit_non_zero_without_a_traceback(run) -> None:  # type: ignore[no-untyped-def]
    run("link", "vpn-error-809", "INC-1", "--category", "network/vpn")
    conflict = run("link", "vpn-error-809", "INC-1", "--category", "email")
    assert conflict.exit_code == 3 and "kb: error:" in conflict.output and "Traceback" not in conflict.output
    unknown = run("link", "nope", "INC-2", "--category", "email")
    assert unknown.exit_code == 2 and "unknown article 'nope'" in unknown.output
    bad = run("link", "vpn-error-809", "INC 2", "--category", "email")
    assert bad.exit_code == 2 and "malformed" in bad.output


def test_import_reports_rejected_rows_with_their_lines(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        "\ufeffticket_id,article,category,relation,user,when\n"
        "INC-1,vpn-error-809,network/vpn,resolved,ann,2026-10-01T09:00:00+08:00\n"
        "INC-1,vpn-error-809,network/vpn,resolved,ann,\n"
        "INC-2,missing-article,network/vpn,,,\n"
        "INC 3,vpn-error-809,network/vpn,,,\n"
        "\n"
        "INC-4,vpn-error-809,email,created_from,bob,\n"
        "INC-5,vpn-error-809,network,resolved,bob,not-a-date\n"
        "INC-6,vpn-error-809,network,resolved,bob,,surplus\n",
        encoding="utf-8")
    result = run("import-resolutions", str(csv_file))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{csv_file}:4: rejected: unknown article 'missing-article': no article has this id or alias" in lines
    assert any(line.startswith(f"{csv_file}:5: rejected: ticket_id 'INC 3' is malformed") for line in lines)
    assert any(line.startswith(f"{csv_file}:8: rejected: when 'not-a-date'") for line in lines)
    assert f"{csv_file}:9: rejected: more fields than columns" in lines
    assert "2 recorded, 1 already recorded, 4 rejected" in result.output
    rerun = run("import-resolutions", str(csv_file))
    assert "0 recorded, 3 already recorded, 4 rejected" in rerun.output


def test_import_refuses_a_file_without_the_required_columns(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("ticket,article\nINC-1,vpn-error-809\n", encoding="utf-8")
    result = run("import-resolutions", str(csv_file))
    assert result.exit_code == 2 and "lacks ticket_id, category" in result.output


def test_stats_prints_the_kcs_report(run) -> None:  # type: ignore[no-untyped-def]
    run("link", "vpn-error-809", "INC-1", "--category", "network/vpn")
    run("link", "vpn-error-809", "INC-2", "--category", "network/vpn", "--relation", "created_from")
    text = run("stats", "--days", "0")
    assert text.exit_code == 0, text.output
    assert "KCS report, all time" in text.output
    assert "tickets 2   with article 2   without 0   link rate 100% (above the 60%-80% band)" in text.output
    assert "reuse 1   create 1" in text.output
    assert "network/vpn" in text.output and "vpn-error-809 (2)" in text.output
    data = json.loads(run("stats", "--json", "--category", "network").output)
    assert data["totals"]["tickets"] == 2 and data["category"] == "network"


def test_boosts_are_written_to_the_index_folder(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("link", "vpn-error-809", "INC-1", "--category", "network/vpn")
    result = run("boosts")
    assert result.exit_code == 0 and "1 article boosts written" in result.output
    boosts = json.loads((tmp_path / "index" / "boosts.json").read_text(encoding="utf-8"))
    assert list(boosts) == ["vpn-error-809"] and 1.0 < boosts["vpn-error-809"] <= 3.0


def test_db_upgrade_and_purge(run) -> None:  # type: ignore[no-untyped-def]
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0 and "is at revision 0003" in upgraded.output
    assert "***" in upgraded.output or "sqlite" in upgraded.output  # never the password
    purged = run("db", "purge-searches")
    assert purged.exit_code == 0 and "0 searches older than 90 days deleted" in purged.output


def test_stats_for_one_article_accepts_an_alias(run, articles_dir: Path) -> None:  # type: ignore[no-untyped-def]
    run("link", "vpn-error-809", "INC-1", "--category", "network/vpn", "--user", "ann")
    result = run("stats", "--article", "VPN-ERROR-809", "--days", "0")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("vpn-error-809: VPN fails with error 809, all time")
    assert "tickets 1   resolved 1" in result.output and "by: ann (1)" in result.output
    assert "default/INC-1  resolved  network/vpn  ann" in result.output
    missing = run("stats", "--article", "nope")
    assert missing.exit_code == 2 and "unknown article 'nope'" in missing.output


def git(root: Path, *args: str, when: str = "2026-01-01T09:00:00+00:00") -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "Wen",
           "GIT_AUTHOR_EMAIL": "wen@example.com", "GIT_COMMITTER_NAME": "Wen", "GIT_COMMITTER_EMAIL": "wen@example.com"}
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def test_stats_json_computes_new_versus_known_from_article_birth(run, articles_dir: Path, write_article) -> None:  # type: ignore[no-untyped-def]
    """vpn-error-809 is born 2026-01-01 (its first commit); mail-later on 2026-06-01."""
    git(articles_dir, "init", "-q", "-b", "main")
    git(articles_dir, "add", "-A")
    git(articles_dir, "commit", "-q", "-m", "first")
    write_article("en/mail-later.md", VALID_ARTICLE.replace("vpn-error-809", "mail-later"))
    git(articles_dir, "add", "-A")
    git(articles_dir, "commit", "-q", "-m", "later", when="2026-06-01T09:00:00+00:00")
    link = ("link", "--category", "network/vpn")
    # opened after vpn-error-809 was born: known; opened before mail-later was born: new
    run(*link, "vpn-error-809", "SD-1", "--opened", "2026-03-01T08:00:00+00:00")
    run(*link, "mail-later", "SD-2", "--opened", "2026-05-01T08:00:00+00:00")
    run(*link, "mail-later", "SD-3", "--opened", "2026-07-01T08:00:00+00:00")
    run(*link, "mail-later", "SD-4", "--relation", "created_from", "--opened", "2026-07-02T08:00:00+00:00")
    # another spelling of SD-1: the same ticket
    assert "already recorded" in run(*link, "vpn-error-809", "sd-1").output
    result = run("stats", "--json", "--days", "0")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("link_rate", "reuse", "create", "new_vs_known", "participation", "link_accuracy", "helpful_rate",
                "zero_result_searches"):
        assert key in data
    assert data["new_vs_known"]["known"] == 2 and data["new_vs_known"]["new"] == 2
    assert (data["reuse"], data["create"], data["link_rate"]) == (3, 1, 1.0)
    assert data["link_rate_band"] == {"low": 0.6, "high": 0.8, "status": "above"}
    assert data["participation"] == 1.0 and data["link_accuracy"] is None and data["helpful_rate"] is None
    assert data["zero_result_searches"] == 0 and data["totals"]["tickets"] == 4


def test_db_upgrade_reports_tickets_stored_in_several_spellings(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    run("link", "vpn-error-809", "SD-2001", "--category", "network/vpn")
    db = Database(database_url)
    try:  # as an older kb (or KB_TICKET_ID_CASE=sensitive) stored them
        RecordStore(db, lambda key: "vpn-error-809", fold_ticket_case=False).record_resolution(
            article="vpn-error-809", ticket_id="sd-2001", category="network/vpn")
    finally:
        db.dispose()
    result = run("db", "upgrade")
    assert result.exit_code == 0
    assert "1 ticket(s) are stored under several spellings" in result.output
    assert "resolutions: default/SD-2001 = sd-2001" in result.output
    data = json.loads(run("stats", "--json", "--days", "0").output)
    assert data["totals"]["tickets"] == 1  # compared case-insensitively, though both rows stay


def test_flags_list_and_close(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    db = Database(database_url)
    try:
        flag = RecordStore(db, lambda key: "vpn-error-809").flag_article(article="vpn-error-809", reason="old steps",
                                                                        user="bo")
    finally:
        db.dispose()
    listed = run("flags", "list")
    assert listed.exit_code == 0 and f"{flag.id}\t" in listed.output and "old steps" in listed.output
    closed = run("flags", "close", str(flag.id), "--user", "net")
    assert closed.exit_code == 0 and f"flag {flag.id} on vpn-error-809 closed (by net)" in closed.output
    assert "was already closed" in run("flags", "close", str(flag.id)).output
    assert run("flags", "list").output == ""
    missing = run("flags", "close", "999")
    assert missing.exit_code == 2 and "no flag with id 999" in missing.output


def test_boosts_write_the_words_users_used(run, tmp_path: Path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    run("link", "vpn-error-809", "SD-1", "--category", "network/vpn", "--subject", "home vpn keeps timing out")
    db = Database(database_url)
    try:
        store = RecordStore(db, lambda key: "vpn-error-809" if key == "vpn-error-809" else None)
        search_id = store.log_search("l2tp 809 at home", {}, 3)
        store.log_click(search_id, "vpn-error-809")
    finally:
        db.dispose()
    assert run("boosts").exit_code == 0
    words = json.loads((tmp_path / "index" / "user_words.json").read_text(encoding="utf-8"))
    assert words == {"vpn-error-809": ["home vpn keeps timing out", "l2tp 809 at home"]}


def test_words_users_used_reorder_search_without_a_rebuild(articles_dir: Path, write_article, database_url: str,  # type: ignore[no-untyped-def]
                                                           tmp_path: Path) -> None:
    from kbcli.main import cli as kb

    for n in (1, 2):
        write_article(f"en/tunnel-{n}.md", VALID_ARTICLE.replace("vpn-error-809", f"tunnel-{n}")
                      .replace("VPN fails with error 809", f"Tunnel {n} drops").replace("Error 809", f"Error 7{n}"))
    env = {"KB_DATABASE_URL": database_url, "KB_ARTICLES_DIR": str(articles_dir),
           "KB_INDEX_DIR": str(tmp_path / "index"), "USER": "tester", "KB_SEMANTIC": "0"}  # words only: a tie
    runner = CliRunner()

    def order() -> list[str]:
        out = runner.invoke(kb, ["search", "--json", "tunnel drops"], env=env, catch_exceptions=False).output
        return [h["id"] for h in json.loads(out)["hits"]]

    assert runner.invoke(kb, ["build"], env=env, catch_exceptions=False).exit_code == 0
    before = order()
    assert before[:2] == ["tunnel-1", "tunnel-2"]  # a tie, broken by document order
    # both resolve a ticket (the same usage boost); only tunnel-2's ticket says "tunnel drops"
    runner.invoke(kb, ["link", "tunnel-1", "SD-4", "--category", "network/vpn"], env=env, catch_exceptions=False)
    runner.invoke(kb, ["link", "tunnel-2", "SD-5", "--category", "network/vpn", "--subject", "tunnel drops"],
                  env=env, catch_exceptions=False)
    assert runner.invoke(kb, ["boosts"], env=env, catch_exceptions=False).exit_code == 0
    after = order()
    assert after[0] == "tunnel-2" and set(after) == set(before)  # reordered, nothing added
