"""A cache of parsed and rendered articles between builds, so one changed file costs one parse.

Parsing (YAML) and rendering (Markdown) are almost all of a build's loading time.
A parse result is reused when the file's text, the vocabulary and the options are
unchanged; a rendering when the body is unchanged and every internal link it made
still resolves to the same URL (links depend on which other articles exist).
The cache is a pickle that only kb writes, into a folder the caller owns.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kb import __version__
from kb.article import Article
from kb.errors import Problem
from kb.files import atomic_open
from kb.render import RenderedBody

log = logging.getLogger(__name__)

CACHE_FILE = "articles.pickle"
FORMAT = 1


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


def _body_digest(article: Article) -> str:
    return digest(article.path + "\0" + article.body)


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

    @classmethod
    def open(cls, folder: Path | None, *key_parts: str, reuse: bool = True) -> LoadCache:
        """The cache in `folder` if it was written under the same key (and `reuse`); else an empty one."""
        key = digest("\0".join((str(FORMAT), __version__, *key_parts)))
        cache = cls(folder, key)
        if folder is None or not reuse:
            return cache
        try:
            with open(folder / CACHE_FILE, "rb") as handle, _gc_paused():
                stored = pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
            return cache
        if isinstance(stored, dict) and stored.get("key") == key:
            cache.parsed = stored.get("parsed", {})
            cache.rendered = stored.get("rendered", {})
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
        asked: dict[str, str | None] = {}

        def recording(target: str) -> str | None:
            asked[target] = resolve(target)
            return asked[target]

        body = render(resolve_link=recording)
        self.rendered[article.path] = _Rendered(_body_digest(article), body, asked)
        return body

    def save(self, keep_paths: set[str]) -> None:
        """Write the cache atomically, keeping only entries for files that still exist."""
        if self.folder is None:
            return
        data = {
            "key": self.key,
            "parsed": {p: e for p, e in self.parsed.items() if p in keep_paths},
            "rendered": {p: e for p, e in self.rendered.items() if p in keep_paths},
        }
        try:
            with atomic_open(self.folder / CACHE_FILE) as handle, _gc_paused():
                pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as exc:  # a cache that cannot be written only costs time next build
            log.warning("cannot write the article cache in %s: %s", self.folder, exc)
