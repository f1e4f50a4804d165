"""A cache of parsed and rendered articles between builds, so one changed file costs one parse.

Parsing (YAML) and rendering (Markdown) are almost all of a build's loading time.
A parse result is reused when the file's text, the vocabulary and the options are
unchanged; a rendering when the body is unchanged and every internal link it made
still resolves to the same URL (links depend on which other articles exist).
The cache is a set of pickles that only kb writes, into a folder the caller owns: the
articles are spread over SHARDS files by path, and a load rewrites only the files whose
articles changed, so one changed article does not cost writing every article's HTML again.

What is not in the cache is rendered by `render_many`, in worker processes when there is
enough of it (Markdown rendering is pure Python, so threads would not help).
"""

from __future__ import annotations

import gc
import hashlib
import logging
import pickle
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from kb import __version__
from kb.article import Article
from kb.errors import Problem
from kb.files import atomic_open
from kb.render import RenderedBody, render_markdown
from kb.workers import process_pool, worker_count

log = logging.getLogger(__name__)

OLD_CACHE_FILE = "articles.pickle"  # format 1: one file
SHARD_FILE = "articles-{:02d}.pickle"
SHARDS = 32
FORMAT = 3  # 2: links carry columns, bodies render by language, failed files keep a partial article; 3: shards
CHUNK = 50  # articles per task sent to a worker: few round trips, and the work still evens out

Resolver = Callable[[str], "str | None"]


def digest(text: str) -> str:
    """A content key for a file's text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Unpickling 10,000 articles makes the cyclic collector run hundreds of times for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _recording(resolve: Resolver) -> tuple[dict[str, str | None], Resolver]:
    """A resolver that remembers what it was asked and answered, and that record."""
    asked: dict[str, str | None] = {}

    def recording(target: str) -> str | None:
        asked[target] = resolve(target)
        return asked[target]

    return asked, recording


def shard_of(path: str) -> int:
    """Which cache file holds an article's entries."""
    return zlib.crc32(path.encode("utf-8", "surrogateescape")) % SHARDS


def _body_digest(article: Article) -> str:
    return digest(article.path + "\0" + article.lang + "\0" + article.body)


@dataclass
class _Parsed:
    digest: str
    article: Article | None
    problems: list[Problem]


@dataclass
class _Rendered:
    digest: str
    body: RenderedBody
    resolved: dict[str, str | None]  # every link target the renderer asked about, and the answer


@dataclass
class LoadCache:
    """Parse and render results by article path, valid for one cache key."""

    folder: Path | None
    key: str
    parsed: dict[str, _Parsed] = field(default_factory=dict)
    rendered: dict[str, _Rendered] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    dirty: set[int] = field(default_factory=set)  # shards whose file must be written again

    @classmethod
    def open(cls, folder: Path | None, *key_parts: str, reuse: bool = True) -> LoadCache:
        """The cache in `folder` if it was written under the same key (and `reuse`); else an empty one."""
        key = digest("\0".join((str(FORMAT), __version__, *key_parts)))
        cache = cls(folder, key)
        if folder is None or not reuse:
            cache.dirty = set(range(SHARDS))
            return cache
        for shard in range(SHARDS):
            try:
                with open(folder / SHARD_FILE.format(shard), "rb") as handle, _gc_paused():
                    stored = pickle.load(handle)
            except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
                cache.dirty.add(shard)
                continue
            if isinstance(stored, dict) and stored.get("key") == key:
                cache.parsed.update(stored.get("parsed", {}))
                cache.rendered.update(stored.get("rendered", {}))
            else:
                cache.dirty.add(shard)
        return cache

    def parsed_result(self, path: str, text_digest: str) -> tuple[Article | None, list[Problem]] | None:
        entry = self.parsed.get(path)
        if entry is None or entry.digest != text_digest:
            self.misses += 1
            return None
        self.hits += 1
        return entry.article, list(entry.problems)

    def store_parsed(self, path: str, text_digest: str, article: Article | None, problems: list[Problem]) -> None:
        self.parsed[path] = _Parsed(text_digest, article, list(problems))
        self.dirty.add(shard_of(path))

    def rendered_body(self, article: Article, resolve: Callable[[str], str | None]) -> RenderedBody | None:
        """The cached rendering of an article, if its body is unchanged and its links resolve as before."""
        entry = self.rendered.get(article.path)
        if entry is not None and entry.digest == _body_digest(article) and \
                all(resolve(target) == url for target, url in entry.resolved.items()):
            return entry.body
        return None

    def render(self, article: Article, resolve: Callable[[str], str | None],
               render: Callable[..., RenderedBody]) -> RenderedBody:
        """Render with `render(resolve_link=...)`, remembering every link it resolved, and cache it."""
        asked, recording = _recording(resolve)
        body = render(resolve_link=recording)
        self.rendered[article.path] = _Rendered(_body_digest(article), body, asked)
        self.dirty.add(shard_of(article.path))
        return body

    def render_many(self, articles: list[Article], resolve: Resolver, processes: int = 1
                    ) -> Iterator[tuple[Article, RenderedBody]]:
        """Render every article (none of them cached) and cache the results; in `processes` worker
        processes when there are enough articles (see kb.workers)."""
        workers = worker_count(processes, len(articles))
        if workers <= 1:
            for article in articles:
                yield article, self.render(article, resolve, partial(render_markdown, article.body,
                                                                      source_path=article.path, lang=article.lang))
            return
        log.info("rendering %d articles in %d processes", len(articles), workers)
        chunks = [articles[i:i + CHUNK] for i in range(0, len(articles), CHUNK)]
        with process_pool(workers, _set_resolver, resolve) as pool:
            for chunk, results in zip(chunks, pool.map(_render_chunk, [[(a.path, a.body, a.lang) for a in chunk]
                                                                       for chunk in chunks]), strict=True):
                for article, (body, asked) in zip(chunk, results, strict=True):
                    self.rendered[article.path] = _Rendered(_body_digest(article), body, asked)
                    self.dirty.add(shard_of(article.path))
                    yield article, body

    def save(self, keep_paths: set[str]) -> None:
        """Write the changed shards atomically, keeping only entries for files that still exist."""
        if self.folder is None:
            return
        for entries in (self.parsed, self.rendered):
            for path in [p for p in entries if p not in keep_paths]:
                del entries[path]
                self.dirty.add(shard_of(path))
        shards: dict[int, dict[str, dict[str, object]]] = {
            n: {"parsed": {}, "rendered": {}} for n in self.dirty}
        for kind, entries in (("parsed", self.parsed), ("rendered", self.rendered)):
            for path, entry in entries.items():
                shard = shards.get(shard_of(path))
                if shard is not None:
                    shard[kind][path] = entry
        try:
            for number, data in sorted(shards.items()):
                with atomic_open(self.folder / SHARD_FILE.format(number)) as handle, _gc_paused():
                    pickle.dump({"key": self.key, **data}, handle, protocol=pickle.HIGHEST_PROTOCOL)
            (self.folder / OLD_CACHE_FILE).unlink(missing_ok=True)
        except OSError as exc:  # a cache that cannot be written only costs time next build
            log.warning("cannot write the article cache in %s: %s", self.folder, exc)
            return
        self.dirty.clear()


_worker_resolver: Resolver | None = None


def _set_resolver(resolve: Resolver) -> None:
    global _worker_resolver
    _worker_resolver = resolve


def _render_chunk(items: list[tuple[str, str, str]]) -> list[tuple[RenderedBody, dict[str, str | None]]]:
    """In a worker: render (path, body, lang) triples, recording every link each one resolved."""
    resolve = _worker_resolver
    assert resolve is not None
    out = []
    for path, body, lang in items:
        asked, recording = _recording(resolve)
        out.append((render_markdown(body, source_path=path, resolve_link=recording, lang=lang), asked))
    return out
