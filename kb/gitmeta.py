"""Last-modified dates and authors of articles from git, in one `git log` for the whole tree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from kb.git import git_or_none

RECORD = "\x1e"
UNIT = "\x1f"


@dataclass
class FileHistory:
    """When a file last changed, by whom, and everyone who changed it."""

    updated: dt.datetime
    updated_by: str
    authors: list[str] = field(default_factory=list)
    commit: str = ""
    created: dt.datetime | None = None  # the file's first commit: when the article was born


def head_commit(root: Path) -> str | None:
    """The commit the articles folder is at, or None outside a git repository."""
    out = git_or_none(root, "rev-parse", "HEAD")
    return out.strip() if out else None


def git_history(root: Path) -> dict[str, FileHistory] | None:
    """History of every file under root, keyed by path relative to root; None outside git."""
    prefix = git_or_none(root, "rev-parse", "--show-prefix")
    if prefix is None:
        return None
    prefix = prefix.strip()
    out = git_or_none(root, "log", f"--format={RECORD}%H{UNIT}%aI{UNIT}%an", "--name-only", "--no-renames", "--", ".")
    if out is None:
        return None
    history: dict[str, FileHistory] = {}
    for record in out.split(RECORD)[1:]:
        header, _, names = record.partition("\n")
        commit, date, author = header.split(UNIT)
        when = dt.datetime.fromisoformat(date)
        for name in names.splitlines():
            name = name.strip()
            if not name.startswith(prefix):
                continue
            rel = name[len(prefix):]
            entry = history.get(rel)
            if entry is None:  # git log is newest first
                history[rel] = FileHistory(when, author, [author], commit, when)
                continue
            entry.created = when  # older and older: the last one seen is the first commit
            if author not in entry.authors:
                entry.authors.append(author)
    return history


def file_history(root: Path, paths: list[str]) -> dict[str, FileHistory]:
    """History for each path: from git when root is in a repository, else the file's mtime."""
    history = git_history(root) or {}
    result = {}
    for rel in paths:
        entry = history.get(rel)
        if entry is None:
            try:
                mtime = (root / rel).lstat().st_mtime
            except OSError:
                continue
            when = dt.datetime.fromtimestamp(mtime, tz=dt.UTC)
            entry = FileHistory(when, "", [], created=when)
        result[rel] = entry
    return result
