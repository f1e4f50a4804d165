"""`kb sync`: fetch, move, build incrementally, swap, record; broken pushes never take the site down."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.config import Settings
from kb.records.db import Database
from kb.records.store import RecordStore
from kbcli.main import cli
from kbcli.sync_commands import watch
from search.build import build_lock, read_manifest
from search.errors import BuildLockedError
from search.results import SearchRequest
from search.service import SearchService
from search.sync import read_history, read_state, sync
from tests.test_sync_fixtures import Writer, git

pytest_plugins = ("tests.test_sync_fixtures",)


def hits(settings: Settings, query: str) -> list[str]:
    return [h.id for h in SearchService(settings.index_dir).search(SearchRequest(query)).hits]


def test_first_sync_clones_builds_and_records_the_commit(node: Settings, writer: Writer) -> None:
    head = git(writer.root, "rev-parse", "HEAD").strip()
    result = sync(node)
    assert result.outcome == "synced" and result.commit == head and result.previous is None
    assert result.articles == 1 and result.added == 1
    assert read_manifest(node.index_dir)["git_commit"] == head  # type: ignore[index]
    assert hits(node, "809") == ["vpn-error-809"]
    state = read_state(node.index_dir)
    assert state.live is not None and state.live.commit == head


def test_sync_with_nothing_new_does_nothing(node: Settings) -> None:
    sync(node)
    history = read_history(node.index_dir)
    live_before = read_manifest(node.index_dir)
    again = sync(node)
    assert again.outcome == "unchanged"
    assert read_manifest(node.index_dir) == live_before
    assert len(read_history(node.index_dir)) == len(history)


def test_push_is_synced_incrementally_with_counts(node: Settings, writer: Writer) -> None:
    sync(node)
    writer.article("printer-jam", "Printer jam", "Open tray two.")
    commit = writer.push("printer article")
    result = sync(node)
    assert result.outcome == "synced" and result.commit == commit and result.mode == "incremental"
    assert (result.added, result.changed, result.removed) == (1, 0, 0)
    assert hits(node, "printer") == ["printer-jam"]
    writer.remove("en/printer-jam.md")
    writer.push("remove it")
    result = sync(node)
    assert (result.added, result.changed, result.removed) == (0, 0, 1)
    assert hits(node, "printer") == []
    assert [r.commit for r in read_history(node.index_dir)][:1] == [result.commit]


def test_broken_article_keeps_its_last_good_version_and_new_broken_one_stays_out(
        node: Settings, writer: Writer) -> None:
    writer.article("printer-jam", "Printer jam", "Open tray two.")
    good = writer.push("printer article")
    sync(node)
    # One push: a valid new article, a broken edit of an existing one, a broken new one.
    writer.article("scanner", "Scanner stripes", "Clean the glass.")
    writer.write("en/printer-jam.md", "---\nid: printer-jam\ntitle: [unclosed\n---\nBody\n")
    writer.write("en/new-broken.md", "---\nid: new-broken\ntitle: Broken new\ntype: nonsense\n---\nBody\n")
    bad = writer.push("mixed push", author="Careless Writer")
    result = sync(node)
    assert result.outcome == "synced" and result.commit == bad
    assert result.kept == {"en/printer-jam.md": good} and result.left_out == ["en/new-broken.md"]
    assert hits(node, "scanner") == ["scanner"]
    assert hits(node, "tray") == ["printer-jam"]  # the last good version is still served
    assert hits(node, "new-broken") == []
    errors = {p.path: p for p in result.errors}
    assert set(errors) == {"en/printer-jam.md", "en/new-broken.md"}
    assert errors["en/printer-jam.md"].author == "Careless Writer"
    assert errors["en/printer-jam.md"].commit == bad
    assert errors["en/printer-jam.md"].served.startswith("kept ")
    assert str(errors["en/new-broken.md"]).startswith("en/new-broken.md:4: ")
    # The next push fixes the article: the fixed version is served and nothing is kept any more.
    writer.article("printer-jam", "Printer jam", "Open tray three.")
    writer.remove("en/new-broken.md")
    writer.push("fix")
    fixed = sync(node)
    assert fixed.kept == {} and fixed.errors == []
    assert hits(node, "three") == ["printer-jam"]


def test_still_broken_article_keeps_the_same_good_version_over_several_pushes(
        node: Settings, writer: Writer) -> None:
    writer.article("printer-jam", "Printer jam", "Open tray two.")
    good = writer.push("printer article")
    sync(node)
    writer.write("en/printer-jam.md", "---\nid: printer-jam\ntitle: [unclosed\n---\nBody\n")
    writer.push("break it")
    sync(node)
    writer.article("other", "Other", "Other text.")
    writer.push("unrelated")
    result = sync(node)
    assert result.kept == {"en/printer-jam.md": good}
    assert hits(node, "tray") == ["printer-jam"]


def test_broken_vocabulary_keeps_the_last_good_vocabulary(node: Settings, writer: Writer) -> None:
    first = sync(node)
    writer.write("_kb/categories.yaml", "network: [broken\n")
    writer.article("printer-jam", "Printer jam", "Open tray two.")
    writer.push("break the vocabulary")
    result = sync(node)
    assert result.outcome == "synced"
    assert result.kept == {"_kb/": first.commit}
    assert any(p.path == "_kb/categories.yaml" for p in result.errors)
    assert hits(node, "tray") == ["printer-jam"]


def test_broken_vocabulary_on_first_sync_fails_and_is_recorded(node: Settings, writer: Writer) -> None:
    writer.write("_kb/categories.yaml", "network: [broken\n")
    bad = writer.push("broken vocabulary")
    result = sync(node)
    assert result.outcome == "failed" and result.commit == bad and "vocabulary" in result.error
    assert read_manifest(node.index_dir) is None
    state = read_state(node.index_dir)
    assert state.live is None and state.last is not None and state.last.outcome == "failed"
    assert sync(node).outcome == "unchanged"  # the same commit is not retried without --force
    assert sync(node, force=True).outcome == "failed"


def test_unreachable_remote_is_a_recorded_failure(node: Settings, tmp_path: Path) -> None:
    sync(node)
    moved = Settings(**{**node.__dict__, "sync_remote": str(tmp_path / "nowhere.git")})
    result = sync(moved)
    assert result.outcome == "failed" and result.commit is None and "fetch" in result.error
    assert read_state(node.index_dir).live is not None  # the live build is untouched


def test_credentials_in_the_remote_url_never_reach_the_recorded_error(node: Settings, tmp_path: Path) -> None:
    secret_remote = "https://kb-bot:glpat-SECRET@127.0.0.1:9/it/articles.git"
    result = sync(Settings(**{**node.__dict__, "sync_remote": secret_remote}))
    assert result.outcome == "failed" and "SECRET" not in result.error
    assert "SECRET" not in (node.index_dir / "sync" / "state.json").read_text(encoding="utf-8")


def test_sync_refuses_while_another_build_holds_the_lock(node: Settings) -> None:
    with build_lock(node.index_dir), pytest.raises(BuildLockedError):
        sync(node)


def test_local_edits_in_the_checkout_are_replaced_by_the_pushed_commit(node: Settings, writer: Writer) -> None:
    sync(node)
    (node.articles_dir / "en" / "vpn-error-809.md").write_text("scribbled", encoding="utf-8")
    (node.articles_dir / "en" / "stray.md").write_text("stray", encoding="utf-8")
    writer.article("printer-jam", "Printer jam", "Open tray two.")
    writer.push()
    result = sync(node)
    assert result.errors == [] and not (node.articles_dir / "en" / "stray.md").exists()
    assert hits(node, "809") == ["vpn-error-809"]


def test_kb_sync_command_prints_problems_and_summary(node: Settings, writer: Writer, origin: Path) -> None:
    env = {"KB_SYNC_REMOTE": str(origin), "KB_SYNC_BRANCH": "main"}
    args = ["sync", "--articles", str(node.articles_dir), "--index", str(node.index_dir)]
    runner = CliRunner()
    first = runner.invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    assert "synced" in first.output
    writer.write("en/new-broken.md", "---\nid: new-broken\ntitle: Broken new\ntype: nonsense\n---\nBody\n")
    writer.push()
    second = runner.invoke(cli, [*args, "--json"], env=env)
    assert second.exit_code == 0, second.output
    data = json.loads(second.stdout)
    assert data["outcome"] == "synced" and data["left_out"] == ["en/new-broken.md"]
    third = runner.invoke(cli, args, env=env)
    assert third.exit_code == 0 and "nothing to do" in third.output


def test_watch_refreshes_search_boosts_after_a_sync(node: Settings, tmp_path: Path) -> None:
    settings = dataclasses.replace(node, database_url=f"sqlite:///{tmp_path / 'records.db'}")
    db = Database(settings.database_url)
    try:
        store = RecordStore(db, lambda key: key if key == "vpn-error-809" else None)
        store.record_resolution(article="vpn-error-809", ticket_id="SD-1", category="network/vpn")
        watch(settings, interval=0.01, every=3600, max_syncs=1)
    finally:
        db.dispose()
    boosts = json.loads((settings.index_dir / "boosts.json").read_text(encoding="utf-8"))
    assert boosts["vpn-error-809"] > 1.0


def test_kb_build_after_kb_sync_reuses_everything(node: Settings, writer: Writer, origin: Path) -> None:
    # Sync and build share one fingerprint (files, options and commit), so nothing is reloaded.
    env = {"KB_SYNC_REMOTE": str(origin), "KB_SYNC_BRANCH": "main"}
    paths = ["--articles", str(node.articles_dir), "--index", str(node.index_dir)]
    runner = CliRunner()
    assert runner.invoke(cli, ["sync", *paths], env=env).exit_code == 0
    writer.article("printer-jam", "Printer jam", "Open tray two.")
    writer.push()
    assert runner.invoke(cli, ["sync", *paths], env=env).exit_code == 0
    live = read_manifest(node.index_dir)
    built = runner.invoke(cli, ["build", *paths], env=env)
    assert built.exit_code == 0, built.output
    assert "unchanged build: 2 articles" in built.output
    assert read_manifest(node.index_dir) == live
