"""The one way kb runs git: in a folder, with a timeout, paths printed as UTF-8, failures as GitError.

`kb.gitmeta` (history for the build) and `kb.gitsync` (clone, fetch and move for `kb sync`) are
written on top of `run_git`; nothing else starts a git process.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from kb.errors import KbError

# A fetch of a large repository over a slow link takes minutes; a hung one must not block a sync forever.
GIT_TIMEOUT = 300


class GitError(KbError):
    """A git command failed; the message carries git's own words."""


def run_git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run `git -C root ARGS`; its exit code and output as bytes (file contents are bytes).

    A missing git, a timeout, or (with check) a non-zero exit raises GitError.
    """
    try:
        done = subprocess.run(["git", "-c", "core.quotePath=false", "-C", str(root), *args], capture_output=True,
                              timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {args[0] if args else ''} in {root} failed: {exc}") from exc
    if check and done.returncode != 0:
        message = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
        raise GitError(f"git {' '.join(args[:2])} in {root} failed: {message}")
    return done


def git(root: Path, *args: str, check: bool = True) -> str:
    """Run git in root and return its output as text; a failure raises GitError (unless check=False,
    which still raises when git cannot be run at all)."""
    return run_git(root, *args, check=check).stdout.decode("utf-8", "replace")


def git_or_none(root: Path, *args: str) -> str | None:
    """git's output, or None when the command fails or git cannot run (e.g. outside a repository)."""
    try:
        return git(root, *args)
    except GitError:
        return None
