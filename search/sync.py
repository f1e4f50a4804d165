"""`kb sync`: fetch the articles repository, move the checkout, build incrementally, swap, record.

A push with broken articles never takes the site down, and a broken or deleted article affects
only itself. After moving to the new commit the articles are loaded; every file with an error
of its own is put back at its last good version (the one the live build serves) or, if it never
had one, removed from the checkout for this build. A reference to an article that is not there
(an onboarding step, `related`, a link) is only a warning: the link renders as plain text, the
path and the related list skip it, and the warning names the commit that deleted the article.
Then the build runs on what is left. The status page gets, with the author of the last commit
that touched each file, the pushed problems of the files held back and the problems of
everything served as pushed (so nobody is blamed for another file's errors).

State, per machine, next to the builds (the index folder is the machine's own):

    sync/state.json      the last sync that built ("live") and the last attempt ("last")
    sync/history.jsonl   one line per sync that did something (newest last, trimmed)
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kb.clock import Clock, utc_now
from kb.config import Settings
from kb.errors import Problem
from kb.files import atomic_write, read_json_object, write_json
from kb.gitmeta import git_history
from kb.gitsync import (
    GitError,
    clone,
    deletions,
    fetch,
    file_at,
    is_checkout,
    move_to,
    redact,
    restore_folder,
    short,
)
from kb.loader import KnowledgeBase, LoadOptions, load_knowledge_base
from kb.vocabulary import VOCABULARY_DIR
from search.build import LOAD_CACHE_DIR, MANIFEST, build_fingerprint, build_lock, current_build, index_knowledge_base
from search.errors import BuildError

log = logging.getLogger(__name__)

SYNC_DIR = "sync"
STATE = "state.json"
HISTORY = "history.jsonl"
KEEP_HISTORY = 200
MAX_ROUNDS = 4  # putting old versions back can break links once more; each round settles more files
VOCABULARY_KEY = VOCABULARY_DIR + "/"

@dataclass(frozen=True)
class SyncProblem:
    """A problem in the pushed articles, who last changed the file, and what the site serves instead."""

    path: str
    line: int
    severity: str
    message: str
    author: str = ""
    commit: str = ""  # the last commit that changed the file
    served: str = ""  # "kept <commit>", "left out", or "" (a warning: the file is served as pushed)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class SyncResult:
    """What one sync did."""

    outcome: str  # "synced", "unchanged" or "failed"
    commit: str | None  # the commit fetched (None when fetching failed)
    previous: str | None = None  # the commit the live build was synced from
    started: str = ""
    seconds: float = 0.0
    mode: str = ""  # the build's: "full", "incremental" or "unchanged"
    articles: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    problems: list[SyncProblem] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # path -> commit whose version is served
    left_out: list[str] = field(default_factory=list)  # new files with errors, not served
    error: str = ""
    deleted: dict[str, str] = field(default_factory=dict)  # id of a deleted article still referenced -> commit

    @property
    def errors(self) -> list[SyncProblem]:
        return [p for p in self.problems if p.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what state.json, history.jsonl and the status page hold)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SyncResult:
        """Back from to_json's dict (unknown keys are ignored, so older kb versions' files load)."""
        names = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in names}
        values["problems"] = [SyncProblem(**p) for p in values.get("problems", [])]
        return cls(**values)

    def summary(self) -> str:
        """One line for logs and the terminal."""
        if self.outcome == "failed":
            return f"sync failed at {short(self.commit) or 'fetch'}: {self.error}"
        if self.outcome == "unchanged":
            return f"already at {short(self.commit)}; nothing to do"
        return (f"synced {short(self.previous) or '(first)'} -> {short(self.commit)}: {self.articles} articles "
                f"({self.added} added, {self.changed} changed, {self.removed} removed); {len(self.errors)} error(s), "
                f"{len(self.kept)} file(s) kept at their last good version, {len(self.left_out)} left out; "
                f"{self.seconds:.1f}s")


@dataclass
class SyncState:
    """The last sync that built the live index, and the last attempt."""

    live: SyncResult | None = None
    last: SyncResult | None = None


def read_state(index_dir: Path) -> SyncState:
    """This machine's sync state (empty before the first sync)."""
    data = read_json_object(index_dir / SYNC_DIR / STATE)
    if data is None:
        return SyncState()
    return SyncState(
        live=SyncResult.from_json(data["live"]) if data.get("live") else None,
        last=SyncResult.from_json(data["last"]) if data.get("last") else None,
    )


def read_history(index_dir: Path, limit: int = 20) -> list[SyncResult]:
    """The last syncs that did something, newest first."""
    try:
        lines = (index_dir / SYNC_DIR / HISTORY).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    results = []
    for line in reversed(lines[-limit:]):
        try:
            results.append(SyncResult.from_json(json.loads(line)))
        except (ValueError, TypeError):
            continue  # a line cut short by a crash mid-write
    return results


def _record(index_dir: Path, state: SyncState, result: SyncResult) -> None:
    folder = index_dir / SYNC_DIR
    folder.mkdir(parents=True, exist_ok=True)
    if result.outcome == "synced":
        state.live = result
    state.last = result
    write_json(folder / STATE, {"live": state.live.to_json() if state.live else None, "last": result.to_json()},
               indent=None)
    history = folder / HISTORY
    try:
        lines = history.read_text(encoding="utf-8").splitlines()[-(KEEP_HISTORY - 1):]
    except OSError:
        lines = []
    lines.append(json.dumps(result.to_json(), ensure_ascii=False))
    atomic_write(history, "\n".join(lines) + "\n")


def _load_options(settings: Settings) -> LoadOptions:
    # The build's own parse-and-render cache: unchanged files (and good versions put back) cost nothing.
    return LoadOptions.from_settings(settings, cache_dir=settings.index_dir / LOAD_CACHE_DIR,
                                     missing_references_warn=True)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()


def _apply(root: Path, kept: dict[str, str], left_out: list[str]) -> None:
    """Put kept files at their good versions and remove left-out ones (the tree the live build was made from)."""
    for rel, commit in kept.items():
        if rel == VOCABULARY_KEY:
            restore_folder(root, commit, VOCABULARY_DIR)
            continue
        content = file_at(root, commit, rel)
        if content is not None:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
    for rel in left_out:
        _remove(root / rel)


def _in_vocabulary(rel: str) -> bool:
    return rel.startswith(VOCABULARY_KEY) or rel == VOCABULARY_DIR


def _load_keeping_good(settings: Settings, previous: SyncResult | None) -> tuple[KnowledgeBase, list[Problem],
                                                                                 dict[str, str], list[str]]:
    """Load the checkout; put files with errors back at their last good version or leave them out."""
    root = settings.articles_dir
    options = _load_options(settings)
    kb = load_knowledge_base(root, options)
    pushed = list(kb.problems)
    last_commit = previous.commit if previous else None
    prev_kept = previous.kept if previous else {}
    prev_left = set(previous.left_out) if previous else set()
    kept: dict[str, str] = {}
    left_out: set[str] = set()
    for _ in range(MAX_ROUNDS):
        bad = sorted({p.path for p in kb.errors} - left_out)
        if not bad:
            break
        vocabulary_source = prev_kept.get(VOCABULARY_KEY, last_commit)
        if any(_in_vocabulary(rel) for rel in bad) and VOCABULARY_KEY not in kept and vocabulary_source:
            # First the vocabulary alone: with it broken, every article using a category fails too.
            restore_folder(root, vocabulary_source, VOCABULARY_DIR)
            kept[VOCABULARY_KEY] = vocabulary_source
            kb = load_knowledge_base(root, options)
            continue
        for rel in bad:
            if _in_vocabulary(rel):
                continue  # still broken at the good version, or no good version: the build refuses
            if rel in kept:  # the good version no longer works with the rest (a link, an id): leave it out
                kept.pop(rel)
            else:
                source = prev_kept.get(rel, last_commit)
                content = file_at(root, source, rel) if source and rel not in prev_left else None
                if content is not None and (root / rel).is_file() and not (root / rel).is_symlink():
                    (root / rel).write_bytes(content)
                    kept[rel] = source  # type: ignore[assignment]  # content is None without a source
                    continue
            _remove(root / rel)
            left_out.add(rel)
        kb = load_knowledge_base(root, options)
    return kb, pushed, kept, sorted(left_out)


def _held_back(path: str, kept: dict[str, str], left_out: list[str]) -> bool:
    return path in kept or path in left_out or (_in_vocabulary(path) and VOCABULARY_KEY in kept)


def _status_problems(pushed: list[Problem], served: list[Problem], kept: dict[str, str],
                     left_out: list[str]) -> list[Problem]:
    """What a writer must fix: the pushed problems of the files held back, and the problems of
    the files served as pushed (a link to a broken article that was put back is no problem)."""
    return sorted({*(p for p in pushed if _held_back(p.path, kept, left_out)),
                   *(p for p in served if not _held_back(p.path, kept, left_out))})


ID_LINE = re.compile(rb"^id:[ \t]*[\"']?([^\"'#\r\n]+?)[\"']?[ \t]*(?:#.*)?$", re.MULTILINE)


def _deleted_articles(root: Path, previous: SyncResult | None, commit: str,
                      problems: list[Problem]) -> dict[str, str]:
    """The deleted articles warnings still refer to: id -> the commit that deleted it (tab) its author."""
    warned = [p.message for p in problems if not p.is_error]
    if not warned:
        return {}
    deleted = dict(previous.deleted) if previous else {}
    if previous and previous.commit and previous.commit != commit:
        for rel, removed_in, author in reversed(deletions(root, previous.commit, commit)):
            if not rel.endswith(".md"):
                continue
            match = ID_LINE.search(file_at(root, f"{removed_in}^", rel) or b"")
            if match:
                deleted[match[1].decode("utf-8", "replace").strip()] = f"{removed_in}\t{author}"
    return {key: value for key, value in deleted.items() if any(_names(message, key) for message in warned)}


def _names(message: str, article_id: str) -> bool:
    return f"{article_id!r}" in message or f"'kb:{article_id}'" in message or f"'kb:{article_id}#" in message


def _sync_problems(root: Path, problems: list[Problem], kept: dict[str, str],
                   left_out: list[str], deleted: dict[str, str] | None = None) -> list[SyncProblem]:
    history = (git_history(root) or {}) if problems else {}
    result = []
    for problem in problems:
        removal = next((v for k, v in (deleted or {}).items() if not problem.is_error and _names(problem.message, k)),
                       None)
        if removal is not None:  # a reference to a deleted article: name the commit (and author) that deleted it
            removed_in, _, author = removal.partition("\t")
            result.append(SyncProblem(problem.path, problem.line, problem.severity.value,
                                      f"{problem.message} (deleted in {short(removed_in)} by {author})",
                                      author, removed_in, ""))
            continue
        entry = history.get(problem.path)
        if problem.path in kept:
            served = f"kept {short(kept[problem.path])}"
        elif problem.path.startswith(VOCABULARY_KEY) and VOCABULARY_KEY in kept:
            served = f"kept {short(kept[VOCABULARY_KEY])}"
        elif problem.path in left_out:
            served = "left out"
        else:
            served = ""
        result.append(SyncProblem(problem.path, problem.line, problem.severity.value, problem.message,
                                  entry.updated_by if entry else "", entry.commit if entry else "", served))
    return sorted(result, key=lambda p: p.severity != "error")  # errors first, each group by path and line


def _check_buildable(kb: KnowledgeBase) -> None:
    vocabulary_errors = [p for p in kb.errors if p.path.startswith(VOCABULARY_KEY)]
    if vocabulary_errors:
        raise BuildError(f"the vocabulary is broken ({len(vocabulary_errors)} error(s) under {VOCABULARY_KEY}) "
                         "and there is no good version to keep; fix it (see `kb check`) and push again")
    if not kb.articles:
        raise BuildError(f"no valid articles under {kb.root}; nothing to index")


def _fetch(settings: Settings) -> str:
    root = settings.articles_dir
    if not is_checkout(root):
        if root.exists() and any(root.iterdir()):
            raise GitError(f"{root} is not a git checkout; move it away (kb sync clones {settings.sync_remote} "
                           "there) or make it one")
        if "/" not in settings.sync_remote and ":" not in settings.sync_remote:
            raise GitError(f"{root} does not exist and KB_SYNC_REMOTE={settings.sync_remote!r} is a remote name; "
                           "set KB_SYNC_REMOTE to the repository's URL or path so kb sync can clone it")
        log.info("cloning %s (%s) into %s", settings.sync_remote, settings.sync_branch, root)
        clone(settings.sync_remote, settings.sync_branch, root)
    return fetch(root, settings.sync_remote, settings.sync_branch)


def sync(settings: Settings, *, force: bool = False, clock: Clock = utc_now) -> SyncResult:
    """Fetch, move the checkout to the new commit, build incrementally, swap, and record the result.

    Holds the build lock throughout; does nothing when the live build already serves the
    fetched commit (unless force). Raises BuildLockedError when another build runs.
    """
    index_dir = settings.index_dir
    root = settings.articles_dir
    with build_lock(index_dir):
        started = time.perf_counter()
        state = read_state(index_dir)
        live = state.live
        stamp = clock().isoformat(timespec="seconds")
        previous = live.commit if live else None
        try:
            commit = _fetch(settings)
        except GitError as exc:
            result = SyncResult("failed", None, previous, stamp, time.perf_counter() - started,
                                error=redact(str(exc)))
            _record(index_dir, state, result)
            log.error("%s", result.summary())
            return result
        if not force and live and live.commit == commit and current_build(index_dir) is not None:
            return SyncResult("unchanged", commit, previous, stamp, time.perf_counter() - started)
        if not force and state.last and state.last.outcome == "failed" and state.last.commit == commit:
            # The same commit would fail the same way; a new push (or --force) tries again.
            return SyncResult("unchanged", commit, previous, stamp, time.perf_counter() - started,
                              error=state.last.error)
        problems: list[SyncProblem] = []
        try:
            move_to(root, commit)
            kb, pushed, kept, left_out = _load_keeping_good(settings, live)
            found = _status_problems(pushed, kb.problems, kept, left_out)
            deleted = _deleted_articles(root, live, commit, found)
            problems = _sync_problems(root, found, kept, left_out, deleted)
            _check_buildable(kb)
            report = index_knowledge_base(kb, index_dir, fingerprint=build_fingerprint(settings))
            if report.build_dir is None:  # no article changed: the live build now serves this commit as is
                _stamp_live_build(index_dir, commit, [str(p) for p in kb.errors])
        except (BuildError, GitError, OSError) as exc:
            result = SyncResult("failed", commit, previous, stamp, time.perf_counter() - started,
                                problems=problems, error=redact(str(exc)))
            _restore_live_tree(root, live)
            _record(index_dir, state, result)
            log.error("%s", result.summary())
            return result
        result = SyncResult("synced", commit, previous, stamp, time.perf_counter() - started, report.mode,
                            report.articles, report.added, report.changed, report.removed, problems, kept, left_out,
                            deleted=deleted)
        _record(index_dir, state, result)
        log.info("%s", result.summary())
        return result


def _stamp_live_build(index_dir: Path, commit: str, errors: list[str]) -> None:
    """Record in the live build's manifest that it serves `commit` (every machine reports the same)."""
    live = current_build(index_dir)
    if live is None:
        return
    path = live / MANIFEST
    manifest = read_json_object(path)
    if manifest is None:
        raise BuildError(f"the live build's {path} cannot be read; run `kb build --full`")
    write_json(path, {**manifest, "git_commit": commit, "errors": errors})


def _restore_live_tree(root: Path, live: SyncResult | None) -> None:
    """After a failed sync, put the checkout back to what the live build was made from
    (the site reads only the build, but the next sync and `kb build` start from the checkout)."""
    if live is None or not live.commit:
        return
    try:
        move_to(root, live.commit)
        _apply(root, live.kept, live.left_out)
    except (GitError, OSError) as exc:
        log.error("could not put %s back at %s: %s", root, short(live.commit), exc)
