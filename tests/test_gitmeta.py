"""Git history for every article in one `git log`, and the pre-commit hook."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.gitmeta import file_history, git_history, head_commit
from kb.loader import LoadOptions, load_knowledge_base
from tests.conftest import REPO, ArticleWriter


def git(cwd: Path, *args: str, author: str = "Ann Writer", check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": "a@example.com",
           "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": "a@example.com",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=check)


def test_history_gives_last_author_and_all_authors(articles_dir: Path, write_article: ArticleWriter) -> None:
    repo = articles_dir.parent
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    path = articles_dir / "en" / "vpn-error-809.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "edit", author="Bo Editor")

    history = git_history(articles_dir)
    assert history is not None
    entry = history["en/vpn-error-809.md"]
    assert entry.updated_by == "Bo Editor"
    assert entry.authors == ["Bo Editor", "Ann Writer"]
    assert entry.commit == head_commit(articles_dir)

    kb = load_knowledge_base(articles_dir, LoadOptions())
    assert kb.history["en/vpn-error-809.md"].updated_by == "Bo Editor"


def test_outside_git_falls_back_to_mtime(articles_dir: Path) -> None:
    assert git_history(articles_dir) is None
    entry = file_history(articles_dir, ["en/vpn-error-809.md"])["en/vpn-error-809.md"]
    mtime = (articles_dir / "en" / "vpn-error-809.md").stat().st_mtime
    assert entry.updated.timestamp() == pytest.approx(mtime, abs=1e-3)
    assert entry.updated_by == ""


def test_pre_commit_hook_blocks_a_broken_staged_article(articles_dir: Path, write_article: ArticleWriter) -> None:
    repo = articles_dir
    git(repo, "init", "-q")
    hook = repo / ".git" / "hooks" / "pre-commit"
    shutil.copy(REPO / "hooks" / "pre-commit", hook)
    git(repo, "add", ".")
    assert git(repo, "commit", "-q", "-m", "good").returncode == 0

    write_article("en/bad.md", "---\nid: bad\ntitle: no\n---\nBody\n")
    git(repo, "add", "en/bad.md")
    refused = git(repo, "commit", "-q", "-m", "bad", check=False)
    assert refused.returncode != 0
    assert "en/bad.md:3:1: error: title: must be a string" in refused.stdout + refused.stderr

    # Fixing only the working tree is not enough: the hook checks what is staged.
    write_article("en/bad.md", "---\nid: bad\ntitle: Fixed\n---\nBody\n")
    assert git(repo, "commit", "-q", "-m", "bad", check=False).returncode != 0
    git(repo, "add", "en/bad.md")
    assert git(repo, "commit", "-q", "-m", "fixed", check=False).returncode == 0


def test_one_git_runner_reports_failures_as_git_errors(tmp_path: Path) -> None:
    from kb.git import GitError, git, git_or_none

    assert git_or_none(tmp_path, "rev-parse", "HEAD") is None  # not a repository
    with pytest.raises(GitError, match="rev-parse HEAD"):
        git(tmp_path, "rev-parse", "HEAD")
    with pytest.raises(GitError, match="failed"):
        git(tmp_path / "missing", "status")
