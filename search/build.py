"""Index builds: into a fresh directory, swapped in whole by replacing the `current` symlink.

Layout of the index folder:

    build.lock            held (flock) by the one running build
    current -> builds/X   the live build; replaced atomically with os.replace
    builds/X/             a Whoosh index plus manifest.json and hashes.json
    boosts.json           optional usage signal: article id -> score multiplier

A failed or killed build leaves only an unreferenced folder under builds/, which
the next build removes; readers never see a half-written index.

A full build of many articles is written by worker processes (KB_BUILD_PROCESSES), each
analysing a contiguous slice of the articles into its own segment; the segments are listed
in article order, so every article gets the document number a one-process build gives it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import logging
import os
import queue
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from kb.article import Article
from kb.config import Settings
from kb.errors import KbError, Problem
from kb.files import read_json_object, write_json
from kb.gitmeta import FileHistory, head_commit
from kb.loader import KnowledgeBase, LoadOptions, load_knowledge_base
from kb.loader import Progress as LoadProgress
from kb.workers import context, process_pool, worker_count
from search.codec import KbCodec
from search.complete import write_completions
from search.errors import BuildError, BuildLockedError
from search.media import write_media
from search.schema import SCHEMA_VERSION, article_document, make_schema, source_key, spelling_words
from search.semantic import encode_build, has_passages

log = logging.getLogger(__name__)

CURRENT = "current"
BUILDS = "builds"
LOCK_FILE = "build.lock"
MANIFEST = "manifest.json"
HASHES = "hashes.json"
SPELLING = "spelling.json"
SPELLING_WORDS = "spelling-words.json"  # each article's words (one string), so an incremental build recounts cheaply
BOOSTS = "boosts.json"
LOAD_CACHE_DIR = "cache"  # parsed and rendered articles kept between builds (kb.cache)
KEEP_BUILDS = 3  # the live build and two before it, for readers still finishing a request
WRITER_MEMORY_MB = 256  # per writing process
PROGRESS_EVERY = 50  # documents a worker process indexes between progress reports

Progress = LoadProgress  # (phase, done, total): loading, rendering, encoding, indexing


@dataclass
class BuildReport:
    """What a build did."""

    build_dir: Path | None  # None when nothing changed and no new build was made
    mode: str  # "full", "incremental" or "unchanged"
    articles: int
    added: int = 0
    changed: int = 0
    removed: int = 0
    skipped_drafts: int = 0
    load_seconds: float = 0.0
    index_seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    previous_errors: list[str] = field(default_factory=list)  # "unchanged" without loading: the live build's

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


def kb_version() -> str:
    try:
        return version("kb")
    except PackageNotFoundError:
        return "unknown"


def current_build(index_dir: Path) -> Path | None:
    """The live build folder, or None if there is none yet."""
    link = index_dir / CURRENT
    try:
        target = os.readlink(link)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            raise BuildError(f"{link} is not a symlink; move it away and run `kb build --full`") from None
        raise
    path = index_dir / target
    return path if path.is_dir() else None


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's build lock; the kernel releases it if the process dies."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildLockedError(f"another build of {index_dir} is running; try again when it finishes") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            remove_leftovers(index_dir)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_leftovers(index_dir: Path) -> None:
    """Remove what killed builds left: unfinished build folders (no manifest) and temporary files.

    Called with the build lock held, so nothing else is writing; every build (even an unchanged
    one, which makes no new folder) starts with it, so a crash costs disk only until the next build.
    """
    live = current_build(index_dir)
    builds = index_dir / BUILDS
    if live is not None:
        _clean_old_builds(index_dir, live)  # unfinished folders, and finished ones past KEEP_BUILDS
    elif builds.is_dir():
        for folder in builds.iterdir():
            if folder.is_dir() and not (folder / MANIFEST).is_file():
                shutil.rmtree(folder, ignore_errors=True)
    for pattern in (f".{CURRENT}.*", f"{LOAD_CACHE_DIR}/.*.tmp", "sync/.*.tmp", "sync/.*.json*.[0-9]*"):
        for leftover in index_dir.glob(pattern):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _user_dict_hash(lines: list[str]) -> str:
    return hashlib.sha1("\n".join(lines).encode("utf-8")).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_current(index_dir: Path, build_dir: Path) -> None:
    """Point `current` at build_dir in one atomic rename."""
    tmp = index_dir / f".current.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.path.relpath(build_dir, index_dir), tmp)
    os.replace(tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)


def _clone_build(source: Path, target: Path) -> None:
    """Copy a build for an incremental update: Whoosh segment files are never rewritten,
    so they are hard-linked; the table of contents and our JSON files are copied."""
    target.mkdir(parents=True)
    for entry in source.iterdir():
        if "LOCK" in entry.name or entry.is_dir():  # media/ is written by its own stage
            continue
        if entry.suffix in (".toc", ".json") or entry.name.startswith("_MAIN"):
            shutil.copy2(entry, target / entry.name)
            continue
        try:
            os.link(entry, target / entry.name)
        except OSError:
            shutil.copy2(entry, target / entry.name)


def _clean_old_builds(index_dir: Path, keep: Path) -> None:
    """Remove unreferenced builds (failed ones included), keeping the newest few."""
    builds = index_dir / BUILDS
    if not builds.is_dir():
        return
    complete = sorted((d for d in builds.iterdir() if d.is_dir() and (d / MANIFEST).is_file()),
                      key=lambda d: d.name, reverse=True)
    keep_set = {keep.resolve(), *(d.resolve() for d in complete[:KEEP_BUILDS])}
    for folder in builds.iterdir():
        if folder.resolve() not in keep_set:
            shutil.rmtree(folder, ignore_errors=True)


def _new_build_dir(index_dir: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    return index_dir / BUILDS / f"{stamp}-{os.getpid()}"


def _check_loadable(kb: KnowledgeBase, strict: bool) -> None:
    vocabulary_errors = [p for p in kb.errors if p.path.startswith("_kb/")]
    if vocabulary_errors:
        raise BuildError(f"the vocabulary is broken ({len(vocabulary_errors)} error(s) under _kb/); "
                         "fix them (see `kb check`) and build again", kb.problems)
    if not kb.articles:
        raise BuildError(f"no valid articles under {kb.root}; nothing to index", kb.problems)
    if strict and kb.problems:
        raise BuildError(f"--strict: {len(kb.errors)} error(s) and {len(kb.warnings)} warning(s); "
                         "fix them or build without --strict", kb.problems)


def build_index(
    settings: Settings,
    *,
    full: bool = False,
    lenient: bool = False,
    strict: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Load the articles and build the index: incrementally when the live build allows it."""
    index_dir = settings.index_dir
    if not settings.articles_dir.is_dir():
        raise BuildError(f"articles folder {settings.articles_dir} does not exist")
    with build_lock(index_dir):
        started = time.perf_counter()
        fingerprint = build_fingerprint(settings, lenient=lenient, strict=strict)
        live = current_build(index_dir)
        manifest = read_json_object(live / MANIFEST) if live and not full else None
        if manifest and manifest.get("source_fingerprint") == fingerprint and \
                manifest.get("schema_version") == SCHEMA_VERSION:
            log.info("no file under %s changed since the live build", settings.articles_dir)
            return BuildReport(None, "unchanged", int(manifest.get("articles", 0)),
                               previous_errors=list(manifest.get("errors", [])),
                               index_seconds=time.perf_counter() - started)
        log.info("loading articles from %s", settings.articles_dir)
        # --full rebuilds the index; parse and render results are still reused (kb.cache keys them
        # by file content, kb version, vocabulary and options), as unchanged text renders the same.
        kb = load_knowledge_base(settings.articles_dir, LoadOptions.from_settings(
            settings, lenient=lenient, cache_dir=index_dir / LOAD_CACHE_DIR, missing_references_warn=True,
            progress=progress))
        load_seconds = time.perf_counter() - started
        log.info("loaded %d valid articles in %.1fs", len(kb.articles), load_seconds)
        _check_loadable(kb, strict)
        report = index_knowledge_base(kb, index_dir, full=full, progress=progress, fingerprint=fingerprint,
                                      processes=settings.build_processes, semantic=settings.semantic)
        report.load_seconds = load_seconds
        return report


def _committed(kb: KnowledgeBase, article: Article) -> FileHistory | None:
    """The article's last commit, if git knows the file (a file's mtime is not stored: touching
    a file must not make it a changed article)."""
    history = kb.history.get(article.path)
    return history if history is not None and history.commit else None


def _file_dates(kb: KnowledgeBase) -> dict[str, str]:
    """Modification times of articles git does not know (outside a repository), by path: the site
    shows them as "updated" without reading the checkout. Kept in the manifest, not the documents,
    so touching a file does not make it a changed article."""
    return {path: history.updated.isoformat() for path, history in kb.history.items() if not history.commit}


def index_knowledge_base(kb: KnowledgeBase, index_dir: Path, *, full: bool = False,
                         progress: Progress | None = None, fingerprint: str | None = None,
                         processes: int = 1, semantic: bool = True) -> BuildReport:
    """Index a loaded knowledge base into a new build and swap it in (the caller holds the lock);
    a full build in up to `processes` worker processes (0: one per CPU); with `semantic`, its
    passages' vectors too (search/semantic.py)."""
    started = time.perf_counter()
    indexed = {a.id: a for a in kb.articles if a.visible}
    drafts = len(kb.articles) - len(indexed)
    # Keys of what each document is made from: cheap, so only changed articles become documents.
    hashes = {i: source_key(a, kb.rendered.get(i), kb.vocabulary, _committed(kb, a)) for i, a in indexed.items()}
    user_dict = list(kb.vocabulary.user_dict_lines)
    settings_key = {"schema_version": SCHEMA_VERSION, "user_dict": _user_dict_hash(user_dict)}

    live = current_build(index_dir)
    old_hashes = _reusable_hashes(live, settings_key) if live and not full else None
    build_dir = _new_build_dir(index_dir)
    try:
        if old_hashes is None:
            mode = "full"
            added, changed, removed = set(hashes), set(), set()
            build_dir.mkdir(parents=True)
            ix = whoosh_index.create_in(str(build_dir), make_schema(user_dict))
        else:
            removed = set(old_hashes) - set(hashes)
            added = set(hashes) - set(old_hashes)
            changed = {i for i in set(hashes) & set(old_hashes) if hashes[i] != old_hashes[i]}
            if not (removed or added or changed) and live is not None and has_passages(live) == semantic:
                _update_manifest(live, source_fingerprint=fingerprint, file_dates=_file_dates(kb))
                return BuildReport(None, "unchanged", len(hashes), skipped_drafts=drafts, problems=kb.problems,
                                   index_seconds=time.perf_counter() - started)
            mode = "incremental"
            assert live is not None
            _clone_build(live, build_dir)
            ix = whoosh_index.open_dir(str(build_dir))
        to_add = sorted(added | changed)
        documents = {}
        for done, i in enumerate(to_add, start=1):
            documents[i] = article_document(indexed[i], kb.rendered.get(i), kb.vocabulary, _committed(kb, indexed[i]))
            if progress:
                progress("encoding", done, len(to_add))
        if mode == "full":
            _write_full(ix, build_dir, [documents[i] for i in to_add], processes, progress)
        else:
            writer = ix.writer(codec=KbCodec())
            try:
                for doc_id in sorted(removed | changed):
                    writer.delete_by_term("id", doc_id)
                for done, doc_id in enumerate(to_add, start=1):
                    writer.add_document(**documents[doc_id])
                    if progress:
                        progress("indexing", done, len(to_add))
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
        ix.close()
        write_media(build_dir, kb.root, kb.media, live)
        write_completions(build_dir, indexed.values(), kb.vocabulary, None if mode == "full" else live)
        encode_build(build_dir, live, indexed.values(), kb.rendered, enabled=semantic)
        # json.dumps, not json.dump: dump streams through the pure-Python encoder (0.7 s at 10k).
        words, counts = _spelling(None if mode == "full" else live, documents, removed | changed)
        (build_dir / HASHES).write_text(json.dumps(hashes), encoding="utf-8")
        (build_dir / SPELLING_WORDS).write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
        (build_dir / SPELLING).write_text(json.dumps(counts, ensure_ascii=False), encoding="utf-8")
        _write_manifest(build_dir, kb, settings_key, mode, len(hashes), seconds=time.perf_counter() - started,
                        fingerprint=fingerprint)
        _swap_current(index_dir, build_dir)
    except BaseException as exc:
        shutil.rmtree(build_dir, ignore_errors=True)
        if isinstance(exc, KbError | KeyboardInterrupt | SystemExit):
            raise
        if isinstance(exc, OSError | RuntimeError | ValueError):
            raise BuildError(f"build failed, the live index is unchanged: {type(exc).__name__}: {exc}") from exc
        raise
    _clean_old_builds(index_dir, build_dir)
    log.info("%s build: %d articles (%d added, %d changed, %d removed) in %.1fs", mode, len(hashes),
             len(added), len(changed), len(removed), time.perf_counter() - started)
    return BuildReport(build_dir, mode, len(hashes), len(added), len(changed), len(removed), drafts,
                       index_seconds=time.perf_counter() - started, problems=kb.problems)


def _write_full(ix: Any, build_dir: Path, documents: list[dict[str, Any]], processes: int,
                progress: Progress | None) -> None:
    """Write a new index's documents in order: in this process, or in worker processes that each
    write one segment of a contiguous slice (listed in order: document numbers are unchanged)."""
    workers = worker_count(processes, len(documents))
    if workers <= 1:
        writer = ix.writer(limitmb=WRITER_MEMORY_MB, codec=KbCodec())
        try:
            for done, document in enumerate(documents, start=1):
                writer.add_document(**document)
                if progress:
                    progress("indexing", done, len(documents))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        return
    size = -(-len(documents) // workers)
    reports: Any = context().Queue()
    with process_pool(workers, _set_progress_queue, reports) as pool:
        futures = [pool.submit(_write_segment, str(build_dir), documents[start:start + size])
                   for start in range(0, len(documents), size)]
        done = 0
        while done < len(documents):
            try:
                count = reports.get(timeout=0.2)
            except queue.Empty:
                if all(f.done() for f in futures) and (any(f.exception() for f in futures) or reports.empty()):
                    break  # a worker failed (f.result() below raises its error), or its last report is lost
                continue
            for _ in range(count):
                done += 1
                if progress:
                    progress("indexing", done, len(documents))
        segments = [f.result() for f in futures]
    toc_generation = ix.latest_generation() + 1
    whoosh_index.TOC(ix.schema, segments, toc_generation).write(ix.storage, ix.indexname)
    whoosh_index.clean_files(ix.storage, ix.indexname, toc_generation, segments)
    shutil.rmtree(build_dir / f"{ix.indexname}.tmp", ignore_errors=True)  # the writers' shared scratch folder


_progress_queue: Any = None


def _set_progress_queue(reports: Any) -> None:
    global _progress_queue
    _progress_queue = reports


def _write_segment(build_dir: str, documents: list[dict[str, Any]]) -> Any:
    """In a worker process: index `documents` into one new segment of the index in build_dir."""
    ix = whoosh_index.open_dir(build_dir)
    writer = SegmentWriter(ix, _lk=False, limitmb=WRITER_MEMORY_MB, codec=KbCodec())
    try:
        for done, document in enumerate(documents, start=1):
            writer.add_document(**document)
            if done % PROGRESS_EVERY == 0:
                _progress_queue.put(PROGRESS_EVERY)
    except BaseException:
        writer.cancel()
        raise
    _progress_queue.put(len(documents) % PROGRESS_EVERY)
    return writer._finalize_segment()  # what Whoosh's own MpWriter(multisegment=True) collects from its workers


def _spelling(live: Path | None, documents: dict[str, dict[str, Any]], stale: set[str]
              ) -> tuple[dict[str, str], dict[str, int]]:
    """Each article's English words, and every word's document frequency: the live build's,
    corrected for the changed articles (recounting 10,000 articles' words took a second)."""
    words: dict[str, str] = {}
    counts: Counter[str] = Counter()
    previous = (read_json_object(live / SPELLING_WORDS) or {}) if live is not None else {}
    previous_counts = read_json_object(live / SPELLING) if live is not None else None
    if previous:
        words = {i: _joined(w) for i, w in previous.items() if i not in stale}
        if previous_counts is not None:
            counts.update(previous_counts)
            for doc_id in stale:
                counts.subtract(_joined(previous.get(doc_id, "")).split())
        else:
            counts = _spelling_counts(words.values())
    for doc_id, document in documents.items():
        words[doc_id] = " ".join(sorted(spelling_words(document)))
        counts.update(words[doc_id].split())
    return words, {word: count for word, count in counts.items() if count > 0}


def _joined(words: str | list[str]) -> str:
    """An article's words as stored: one space-separated string (a list before 2026-12)."""
    return words if isinstance(words, str) else " ".join(words)


def _spelling_counts(per_article: Iterable[str]) -> Counter[str]:
    """Document frequency of every English word."""
    counts: Counter[str] = Counter()
    for words in per_article:
        counts.update(words.split())
    return counts


def _reusable_hashes(live: Path, settings_key: dict[str, Any]) -> dict[str, str] | None:
    """The live build's content hashes, if it was built with the same schema and dictionary."""
    manifest = read_json_object(live / MANIFEST)
    if manifest is None or any(manifest.get(key) != value for key, value in settings_key.items()):
        return None
    return read_json_object(live / HASHES)


def _write_manifest(build_dir: Path, kb: KnowledgeBase, settings_key: dict[str, Any], mode: str, count: int,
                    seconds: float = 0.0, fingerprint: str | None = None) -> None:
    """manifest.json: what the site shows about the build (written last: it marks the build complete)."""
    path = build_dir / MANIFEST
    manifest = {
        "kb_version": kb_version(),
        **settings_key,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
        "mode": mode,
        "git_commit": head_commit(kb.root),
        "articles": count,
        "errors": [str(p) for p in kb.errors],
        "warnings": len(kb.warnings),
        "source_fingerprint": fingerprint,
        "synonyms": [list(group) for group in kb.vocabulary.synonyms],
        "vocabulary": kb.vocabulary.to_json(),  # what the site shows: categories, tags, onboarding paths
        "file_dates": _file_dates(kb),
        "labels": {
            "category": {slug: {"zh": label.zh, "en": label.en} for slug, label in kb.vocabulary.categories.items()},
            "tag": {slug: {"zh": label.zh, "en": label.en} for slug, label in kb.vocabulary.tags.items()},
            "product": {pid: {"zh": p.name, "en": p.name} for pid, p in kb.vocabulary.products.items()},
        },
    }
    write_json(path, manifest)


def _update_manifest(build_dir: Path, **changes: Any) -> None:
    manifest = read_json_object(build_dir / MANIFEST)
    if manifest is not None:
        write_json(build_dir / MANIFEST, {**manifest, **changes})


def build_fingerprint(settings: Settings, *, lenient: bool = False, strict: bool = False) -> str:
    """What a build's output depends on: the files, the options and the commit (the index stores each
    article's last commit and author). `kb build` and `kb sync` both call this, so a build right after
    a sync finds nothing changed."""
    return source_fingerprint(settings.articles_dir, f"lenient={lenient}", f"strict={strict}",
                              f"lang={settings.default_lang}", f"max={settings.max_article_bytes}",
                              f"commit={head_commit(settings.articles_dir)}", f"semantic={settings.semantic}")


def source_fingerprint(articles_dir: Path, *options: str) -> str:
    """Names, sizes and modification times of every file under the articles folder (~50 ms for
    10,000 files), so a build with nothing changed skips loading altogether."""
    digest = hashlib.sha1("\0".join(options).encode("utf-8"))
    for folder, dirs, files in os.walk(articles_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                stat = os.lstat(path)
            except OSError:
                continue
            rel = os.path.relpath(path, articles_dir)
            digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The live build's manifest, or None if there is no build."""
    live = current_build(index_dir)
    return None if live is None else read_json_object(live / MANIFEST)
