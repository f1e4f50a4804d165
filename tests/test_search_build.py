"""Builds: atomic swap, lock, failures that leave the live index serving, incremental updates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kb.config import Settings
from search.build import BUILDS, CURRENT, build_index, build_lock, current_build, read_manifest
from search.errors import BuildError, BuildLockedError
from search.results import SearchRequest
from search.service import SearchService
from tests.conftest import REPO
from tests.test_search_fixtures import MakeArticle

pytest_plugins = ("tests.test_search_fixtures",)


def total(service: SearchService, query: str) -> int:
    return service.search(SearchRequest(query)).total


def test_full_build_swaps_current_symlink_and_writes_manifest(settings: Settings, make_article: MakeArticle) -> None:
    make_article("scanner", "Scanner jam", "Scanner jam fix.")
    report = build_index(settings)
    assert report.mode == "full" and report.articles == 2
    link = settings.index_dir / CURRENT
    assert link.is_symlink() and current_build(settings.index_dir) == report.build_dir
    manifest = read_manifest(settings.index_dir)
    assert manifest is not None
    assert manifest["articles"] == 2 and manifest["mode"] == "full"
    assert {"git_commit", "built_at", "errors", "kb_version"} <= set(manifest)


def test_reader_sees_new_build_without_restart(settings: Settings, make_article: MakeArticle) -> None:
    build_index(settings)
    service = SearchService(settings.index_dir)
    assert total(service, "scanner") == 0
    make_article("scanner", "Scanner jam", "Scanner jam fix.")
    build_index(settings)
    assert total(service, "scanner") == 1


def test_incremental_build_reindexes_only_changes(settings: Settings, make_article: MakeArticle,
                                                  articles_dir: Path) -> None:
    for n in range(5):
        make_article(f"note-{n}", f"Note {n}", f"Body of note {n}.")
    first = build_index(settings)
    service = SearchService(settings.index_dir)
    make_article("note-1", "Note 1 changed", "Completely rewritten about gizmos.")
    (articles_dir / "en" / "note-2.md").unlink()
    make_article("note-9", "Note 9", "A new note about widgets.")
    report = build_index(settings)
    assert (report.mode, report.added, report.changed, report.removed) == ("incremental", 1, 1, 1)
    assert report.build_dir != first.build_dir
    assert total(service, "gizmos") == 1 and total(service, "widgets") == 1
    assert service.get_article("note-2") is None
    assert service.get_article("note-1").title == "Note 1 changed"  # type: ignore[union-attr]
    # The previous build still answers for a reader that has not switched yet.
    assert SearchService(first.build_dir.parent.parent).search(SearchRequest("gizmos")).total == 1
    unchanged = build_index(settings)
    assert unchanged.mode == "unchanged" and unchanged.build_dir is None
    assert build_index(settings).load_seconds == 0.0  # no file changed: nothing loaded


def test_touched_but_identical_file_is_loaded_and_found_unchanged(settings: Settings, articles_dir: Path) -> None:
    build_index(settings)
    path = articles_dir / "en" / "vpn-error-809.md"
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    report = build_index(settings)
    assert report.mode == "unchanged" and report.load_seconds > 0
    assert build_index(settings).load_seconds == 0.0


def test_full_flag_rebuilds_everything(settings: Settings) -> None:
    build_index(settings)
    assert build_index(settings, full=True).mode == "full"


def test_second_builder_is_refused_while_lock_held(settings: Settings) -> None:
    with build_lock(settings.index_dir), pytest.raises(BuildLockedError, match="another build"):
        build_index(settings)


def test_failed_build_leaves_live_index(settings: Settings, make_article: MakeArticle) -> None:
    build_index(settings)
    live = current_build(settings.index_dir)
    make_article("scanner", "Scanner jam", "Scanner jam fix.")

    def explode(phase: str, done: int, total: int) -> None:
        if phase == "indexing":
            raise OSError("disk full")

    with pytest.raises(BuildError, match="live index is unchanged"):
        build_index(settings, progress=explode)
    assert current_build(settings.index_dir) == live
    assert [d for d in (settings.index_dir / BUILDS).iterdir()] == [live]
    assert total(SearchService(settings.index_dir), "error 809") == 1


def test_broken_vocabulary_fails_the_build(settings: Settings, articles_dir: Path) -> None:
    (articles_dir / "_kb" / "tags.yaml").write_text("windows: [not, a, mapping\n", encoding="utf-8")
    with pytest.raises(BuildError, match="vocabulary"):
        build_index(settings)
    assert current_build(settings.index_dir) is None


def test_articles_with_errors_are_left_out_and_reported(settings: Settings, write_article: Callable[..., Path]) -> None:
    write_article("en/bad.md", "---\nid: bad\n---\nno title\n")
    report = build_index(settings)
    assert report.articles == 1 and any(p.path == "en/bad.md" for p in report.errors)
    manifest = read_manifest(settings.index_dir)
    assert manifest is not None and any("en/bad.md" in e for e in manifest["errors"])
    with pytest.raises(BuildError, match="strict"):
        build_index(settings, strict=True)


def test_nothing_valid_fails(settings: Settings, articles_dir: Path) -> None:
    (articles_dir / "en" / "vpn-error-809.md").unlink()
    (articles_dir / "_kb" / "onboarding.yaml").unlink()  # it names the article
    with pytest.raises(BuildError, match="no valid articles"):
        build_index(settings)


def test_reader_keeps_answering_while_builds_run(settings: Settings, make_article: MakeArticle) -> None:
    for n in range(60):
        make_article(f"note-{n}", f"Printer note {n}", f"Printer body {n} with spooler text.")
    build_index(settings)
    service = SearchService(settings.index_dir)
    failures: list[BaseException] = []
    counts: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                counts.append(service.search(SearchRequest("printer")).total)
            except BaseException as exc:  # the test reports any failure
                failures.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(3):
            build_index(settings, full=True)
    finally:
        stop.set()
        reader.join(30)
    assert not failures and counts and set(counts) == {60}


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from kb.config import load_settings
    from search.build import build_index
    settings = load_settings(articles_dir=sys.argv[1], index_dir=sys.argv[2])
    def slow(phase, done, total):
        if phase != "indexing":
            return
        if done == 1:
            print("started", flush=True)
        import time; time.sleep(0.01)
    build_index(settings, full=True, progress=slow)
""")


def test_killed_build_leaves_live_index_and_is_cleaned_up(settings: Settings, make_article: MakeArticle,
                                                          tmp_path: Path) -> None:
    for n in range(200):
        make_article(f"note-{n}", f"Printer note {n}", f"Printer body {n}.")
    build_index(settings)
    live = current_build(settings.index_dir)
    script = tmp_path / "build_slowly.py"
    script.write_text(KILL_SCRIPT, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    with subprocess.Popen([sys.executable, str(script), str(settings.articles_dir), str(settings.index_dir)],
                          stdout=subprocess.PIPE, env=env, text=True) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert current_build(settings.index_dir) == live
    assert len(list((settings.index_dir / BUILDS).iterdir())) == 2  # the live build and the abandoned one
    assert total(SearchService(settings.index_dir), "printer") == 200
    report = build_index(settings, full=True)  # the lock died with the process
    assert sorted((settings.index_dir / BUILDS).iterdir()) == sorted({live, report.build_dir})  # type: ignore[type-var]


def test_boosts_file_with_garbage_is_ignored(settings: Settings) -> None:
    build_index(settings)
    (settings.index_dir / "boosts.json").write_text("{not json", encoding="utf-8")
    assert total(SearchService(settings.index_dir), "vpn") == 1
    (settings.index_dir / "boosts.json").write_text(json.dumps(["a"]), encoding="utf-8")
    assert total(SearchService(settings.index_dir), "vpn") == 1


def test_incremental_build_leaves_the_same_spelling_words_as_a_full_build(
    settings: Settings, make_article: MakeArticle
) -> None:
    make_article("spooler", "Print spooler stuck", "Restart the spooler service.")
    make_article("wifi", "Wireless drops", "The wireless adapter sleeps.")
    build_index(settings)
    make_article("spooler", "Print queue stuck", "Clear the queue folder.")  # drops "spooler"
    make_article("teams", "Camera missing", "Teams shows no camera.")
    (settings.articles_dir / "en" / "wifi.md").unlink()
    assert build_index(settings).mode == "incremental"
    incremental = json.loads((current_build(settings.index_dir) / "spelling.json").read_text(encoding="utf-8"))
    build_index(settings, full=True)
    full = json.loads((current_build(settings.index_dir) / "spelling.json").read_text(encoding="utf-8"))
    assert incremental == full
    assert "spooler" not in full and "wireless" not in full and "camera" in full


def test_last_commit_is_stored_and_a_new_commit_reindexes_the_article(settings: Settings, articles_dir: Path) -> None:
    from tests.test_gitmeta import git

    repo = articles_dir.parent
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    build_index(settings)
    view = SearchService(settings.index_dir).get_article("vpn-error-809")
    assert view is not None and view.updated_by == "Ann Writer" and view.updated

    # Same content, new commit (an edit and its revert): the stored author follows git.
    path = articles_dir / "en" / "vpn-error-809.md"
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "\nMore.\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "edit", author="Bo Editor")
    path.write_text(original, encoding="utf-8")
    git(repo, "commit", "-q", "-am", "revert", author="Cy Reverter")
    report = build_index(settings)
    assert report.mode == "incremental" and report.changed == 1
    view = SearchService(settings.index_dir).get_article("vpn-error-809")
    assert view is not None and view.updated_by == "Cy Reverter"

    # A commit that changes no file's bytes or times (here: amending the author) is still seen.
    git(repo, "commit", "-q", "--amend", "--no-edit", "--reset-author", author="Di Amender")
    assert build_index(settings).changed == 1
    view = SearchService(settings.index_dir).get_article("vpn-error-809")
    assert view is not None and view.updated_by == "Di Amender"
