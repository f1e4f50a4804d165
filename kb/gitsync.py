"""Git plumbing for `kb sync`: clone, fetch, move the articles checkout, read old versions.

The articles checkout a site serves belongs to `kb sync`: it is moved with a forced
checkout of a detached commit, so local edits there are thrown away on the next sync.
Paths are relative to the articles folder, which may be the repository root or a folder in it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from kb.git import GitError, git, run_git

log = logging.getLogger(__name__)

_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


def redact(message: str) -> str:
    """A message without the user:token part of any URL in it (sync errors are shown on the site)."""
    return _CREDENTIALS.sub(r"\1***@", message)


def is_checkout(root: Path) -> bool:
    """True when root is inside a git working tree."""
    return root.is_dir() and git(root, "rev-parse", "--is-inside-work-tree", check=False).strip() == "true"


def clone(remote: str, branch: str, root: Path) -> None:
    """Make root a checkout of remote's branch (the first sync of a new machine)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    git(root.parent, "clone", "--quiet", "--branch", branch, remote, str(root.resolve()))


def fetch(root: Path, remote: str, branch: str) -> str:
    """Fetch branch from remote (a remote name, URL or path) and return the commit it points at."""
    git(root, "fetch", "--quiet", remote, f"refs/heads/{branch}")
    return git(root, "rev-parse", "FETCH_HEAD^{commit}").strip()


def head(root: Path) -> str | None:
    """The commit the checkout is at, or None when it has none."""
    out = git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).strip()
    return out or None


def move_to(root: Path, commit: str) -> None:
    """Put the checkout at commit exactly: tracked files reset, untracked article files removed."""
    git(root, "checkout", "--quiet", "--force", "--detach", commit)
    git(root, "clean", "--quiet", "-d", "--force", "--", ".")


def file_at(root: Path, commit: str, rel: str) -> bytes | None:
    """A file's content at a commit (rel is relative to root), or None if it did not exist there."""
    done = run_git(root, "show", f"{commit}:./{rel}", check=False)
    return done.stdout if done.returncode == 0 else None


def restore_folder(root: Path, commit: str, rel: str) -> None:
    """Put a folder back as it was at commit (files added since then are removed)."""
    folder = root / rel
    if folder.is_dir():
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
    git(root, "checkout", "--quiet", commit, "--", rel)
    git(root, "reset", "--quiet", "--", rel)  # leave the index at HEAD; only the files differ


def deletions(root: Path, since: str, until: str) -> list[tuple[str, str, str]]:
    """Files under root deleted after since up to until: (path relative to root, commit, author), newest first."""
    out = git(root, "log", "--relative", "--diff-filter=D", "--name-only", "--format=%x00%H%x09%an",
              f"{since}..{until}", "--", ".", check=False)
    found = []
    for chunk in out.split("\x00")[1:]:
        header, _, names = chunk.partition("\n")
        commit, _, author = header.partition("\t")
        found += [(name, commit, author) for name in names.split("\n") if name.strip()]
    return found


def short(commit: str | None) -> str:
    """The first 10 digits of a commit, for messages."""
    return (commit or "")[:10]


__all__ = ["GitError", "clone", "fetch", "file_at", "git", "head", "is_checkout", "move_to", "redact",
           "restore_folder", "short"]
