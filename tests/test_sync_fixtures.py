"""Fixtures for the publishing tests: a bare articles repository and a writer's clone that pushes to it.

This module holds no tests of its own.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kb.config import Settings, load_settings
from tests.conftest import VALID_ARTICLE, VOCABULARY, dedent
from tests.test_search_fixtures import article_text

GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}


def git(root: Path, *args: str) -> str:
    """Run git in root as the test writer; return its output."""
    done = subprocess.run(["git", "-C", str(root), "-c", "user.name=Test Writer", "-c", "user.email=w@example.com",
                           "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
                          capture_output=True, text=True, check=True)
    return done.stdout


class Writer:
    """A writer's clone of the articles repository: write files, commit, push."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def article(self, id: str, title: str, body: str = "Some text.", **fields: object) -> None:
        self.write(f"en/{id}.md", article_text(id, title, body, **fields))  # type: ignore[arg-type]

    def remove(self, rel: str) -> None:
        git(self.root, "rm", "-q", rel)

    def push(self, message: str = "update", author: str = "Test Writer") -> str:
        git(self.root, "add", "-A")
        git(self.root, "-c", f"user.name={author}", "commit", "-q", "-m", message)
        git(self.root, "push", "-q", "origin", "HEAD:main")
        return git(self.root, "rev-parse", "HEAD").strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository with the test vocabulary and one valid article on `main`."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    return bare


@pytest.fixture
def writer(origin: Path, tmp_path: Path) -> Writer:
    """A clone of `origin` holding the first commit (already pushed)."""
    root = tmp_path / "writer"
    git(tmp_path, "clone", "-q", str(origin), str(root))
    git(root, "checkout", "-q", "-b", "main")
    w = Writer(root)
    for name, text in VOCABULARY.items():
        w.write(f"_kb/{name}", dedent(text))
    w.write("en/vpn-error-809.md", dedent(VALID_ARTICLE))
    w.push("first articles")
    return w


def node_settings(origin: Path, folder: Path, **overrides: object) -> Settings:
    """One machine's settings: its own checkout and index, fetching from origin."""
    values = {"semantic": False, **overrides}  # word matching only: these tests are about publishing
    return load_settings(environ={}, articles_dir=folder / "articles", index_dir=folder / "index",
                         sync_remote=str(origin), sync_branch="main", **values)


@pytest.fixture
def node(origin: Path, writer: Writer, tmp_path: Path) -> Settings:
    """A machine's settings (the checkout does not exist yet: the first sync clones it)."""
    return node_settings(origin, tmp_path / "node")
