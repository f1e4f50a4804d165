"""What the site reads from the built index, through one accessor (`get_catalog`).

The search package owns the index; this module adapts its answers into what pages need:
article metadata for listings (kept per index generation, so a newly swapped index is
picked up without a restart), aliases, translations, and category counts. Everything comes from
the build (stored fields and manifest.json, vocabulary included): a web worker never reads the
checkout or runs git, so the checkout can change under a running site until the next build.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app, g, has_request_context, request

from kb.config import Settings
from kb.errors import KbError
from kb.ids import ArticleIds
from kb.vocabulary import Label, Vocabulary
from search import ArticleView, IndexMissingError, QueryError, SearchRequest, SearchResult, SearchService
from search.complete import Completer, Completion
from search.metrics import SEARCH_REFUSED, SEARCH_SECONDS, SEARCH_ZERO_RESULTS
from search.results import DEFAULT_LIMIT, FILTERS, parse_datetime
from web.settings import SETTINGS_KEY

log = logging.getLogger(__name__)

EXTENSION_KEY = "kb_catalog"
T = TypeVar("T")


@dataclass
class Snapshot:
    """Metadata of every visible article in one index generation, with lookups built once."""

    articles: list[ArticleView]
    vocabulary: Vocabulary
    built: dt.datetime | None = None
    by_id: dict[str, ArticleView] = field(default_factory=dict)
    ids: ArticleIds = field(default_factory=ArticleIds)  # id, alias or path -> current id
    translations: dict[str, str] = field(default_factory=dict)
    category_counts: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, list[ArticleView]] = field(default_factory=dict)  # listed, best first
    _recent: list[ArticleView] | None = None

    def __post_init__(self) -> None:
        self.articles = [a for a in self.articles if a.visible]
        self.by_id = {a.id: a for a in self.articles}
        self.ids = ArticleIds.from_articles(self.articles)
        for a in self.articles:
            if a.translation_of and a.translation_of in self.by_id:
                self.translations.setdefault(a.id, a.translation_of)
                self.translations.setdefault(a.translation_of, a.id)
        members: dict[str, list[ArticleView]] = defaultdict(list)
        for a in self.listed():
            for slug in {part for c in a.categories for part in _with_ancestors(c)}:
                members[slug].append(a)
        self.by_category = {slug: sorted(items, key=_best_first) for slug, items in members.items()}
        self.category_counts = {slug: len(items) for slug, items in self.by_category.items()}

    def resolve(self, key: str) -> str | None:
        """The current id for an id in another case, an alias or a path (old or current)."""
        return self.ids.resolve(key)

    def translation(self, article: ArticleView) -> ArticleView | None:
        """The same article in the other language."""
        other = self.translations.get(article.id)
        return self.by_id.get(other) if other else None

    def listed(self) -> list[ArticleView]:
        """Articles shown in listings: not drafts, not archived."""
        return [a for a in self.articles if a.listed]

    def in_category(self, slug: str) -> list[ArticleView]:
        """Articles in a category or below it, validated first, then by title."""
        return self.by_category.get(slug, [])

    def with_tag(self, tag: str) -> list[ArticleView]:
        """Articles carrying a tag, best first."""
        return sorted((a for a in self.listed() if tag in a.tags), key=_best_first)

    def about_product(self, product_id: str) -> list[ArticleView]:
        """Articles about a product (any version), best first."""
        return sorted((a for a in self.listed() if any(p.partition("@")[0] == product_id for p in a.products)),
                      key=_best_first)

    def recent(self, limit: int) -> list[ArticleView]:
        """Most recently changed articles first."""
        if self._recent is None:
            epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            self._recent = sorted(self.listed(), key=lambda a: _aware(a.updated) or epoch, reverse=True)
        return self._recent[:limit]

    def overdue(self, today: dt.date | None = None) -> list[tuple[str, list[ArticleView]]]:
        """Articles past their review date, grouped by owner, most overdue first."""
        groups: dict[str, list[ArticleView]] = defaultdict(list)
        for a in self.listed():
            if a.is_review_overdue(today):
                groups[a.owner].append(a)
        return [(owner, sorted(items, key=lambda a: (a.review_due, a.title)))
                for owner, items in sorted(groups.items(), key=lambda kv: (kv[0] == "", kv[0]))]

    def category_groups(self) -> list[tuple[Label, int, list[tuple[Label, int, int]]]]:
        """Top-level categories with their count and descendants (label, count, depth)."""
        groups: list[tuple[Label, int, list[tuple[Label, int, int]]]] = []
        for label, count, depth in self.category_tree():
            if depth == 0 or not groups:
                groups.append((label, count, []))
            else:
                groups[-1][2].append((label, count, depth))
        return groups

    def category_tree(self) -> list[tuple[Label, int, int]]:
        """(label, article count, depth) for every category, parents before children."""
        return [(label, self.category_counts.get(slug, 0), slug.count("/"))
                for slug, label in sorted(self.vocabulary.categories.items())]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _with_ancestors(slug: str) -> list[str]:
    parts = slug.split("/")
    return ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]


_STATE_ORDER = {"validated": 0, "unverified": 1, "archived": 2}


def _best_first(a: ArticleView) -> tuple[int, str]:
    return _STATE_ORDER.get(a.state, 1), a.title.casefold()


class Catalog:
    """The site's view of the index: opened once per process, refreshed when a new index is swapped in."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        # Opens the index lazily, on first use, then warms it in the background.
        self.service = SearchService(settings.index_dir, warm_terms=settings.warm_terms, semantic=settings.semantic,
                                     share_encoder=True)
        self._snapshot: Snapshot | None = None
        self._generation: object = None
        self._per_build: dict[str, tuple[Path, Any]] = {}

    def snapshot(self) -> Snapshot:
        """Metadata of the live index build (re-read when a new build is swapped in)."""
        # Raises IndexMissingError when nothing is built; the error handler turns it into a 503.
        live = self.service.handle.snapshot()
        generation = live.build_dir
        with self._lock:
            if self._snapshot is not None and generation == self._generation:
                return self._snapshot
        views = sorted(self.service.all_articles(), key=lambda view: view.id)
        # The build's own vocabulary, never the checkout's: the checkout may be ahead of the index.
        stored = live.manifest.get("vocabulary")
        if not isinstance(stored, dict):
            log.warning("the live build %s has no vocabulary in its manifest: run `kb build --full`", generation)
            stored = {}
        vocabulary = Vocabulary.from_json(stored)
        built = parse_datetime(live.manifest.get("built_at"))
        dates = live.manifest.get("file_dates") or {}
        views = [dataclasses.replace(v, updated=parse_datetime(dates.get(v.path)))
                 if v.updated is None and v.path in dates else v for v in views]
        snap = Snapshot(views, vocabulary, built)
        with self._lock:
            self._snapshot, self._generation = snap, generation
        # A new build: read its completions now, so the first keystroke in a search box does not wait.
        threading.Thread(target=self._load_completions, name="kb-complete", daemon=True).start()
        return snap

    def _load_completions(self) -> None:
        # If the build went away or broke meanwhile, the next request that needs it says so.
        with contextlib.suppress(KbError, OSError):
            self.per_build("complete", Completer.open)

    def per_build(self, name: str, load: Callable[[Path], T]) -> T:
        """What `load` reads from the live build folder (media list, completions), read once per build."""
        build_dir = self.service.handle.snapshot().build_dir
        with self._lock:
            cached = self._per_build.get(name)
            if cached is not None and cached[0] == build_dir:
                value: T = cached[1]
                return value
        value = load(build_dir)
        with self._lock:
            self._per_build[name] = (build_dir, value)
        return value

    def complete(self, prefix: str, limit: int) -> list[Completion]:
        """Titles, error codes, ids and products that start with what the reader typed, best first."""
        return self.per_build("complete", Completer.open).complete(prefix, limit)
    def prepare(self) -> None:
        """Open and warm the live build and read its article metadata now, waiting until done:
        gunicorn's master does it before forking workers (deploy/gunicorn.conf.py), so that
        they start warm, share those pages, and no request waits for an open or a warm-up."""
        self.service.open_warmed()
        self.snapshot()

    def search(self, query: str, filters: Mapping[str, str | Sequence[str]], *, page: int = 1,
               limit: int = DEFAULT_LIMIT, correct: bool = True) -> SearchResult:
        """One page of results with facets and highlighted snippets (a filter may have several values);
        `correct`: misspelt words are searched as their correction."""
        lists = {k: [v] if isinstance(v, str) else list(v) for k, v in filters.items()}
        endpoint = (request.blueprint or "site") if has_request_context() else "site"
        started = time.perf_counter()
        try:
            result: SearchResult = self.service.search(SearchRequest(query=query, filters=lists, page=page,
                                                                     limit=limit, correct=correct))
        except QueryError:
            SEARCH_REFUSED.labels(endpoint, "limit").inc()
            raise
        finally:
            SEARCH_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
        if result.partial:
            SEARCH_REFUSED.labels(endpoint, "timeout").inc()
        if result.total == 0 and query.strip():
            SEARCH_ZERO_RESULTS.labels(endpoint).inc()
        return result

    def article_html(self, article_id: str) -> str | None:
        """The rendered, sanitized body stored for an article."""
        view = self.service.get_article(article_id)
        return None if view is None else str(view.html)

    def suggest(self, subject: str, description: str, category: str | None, limit: int) -> list[dict[str, Any]]:
        """The best articles for a ticket, as JSON hits."""
        result = self.service.suggest_for_ticket(subject, description, category=category, limit=limit)
        return [hit.to_json() for hit in result.hits]


def get_catalog() -> Catalog:
    """The process-wide catalog of the current app."""
    catalog: Catalog = current_app.extensions[EXTENSION_KEY]
    return catalog


def get_snapshot() -> Snapshot:
    """Article metadata of the index build serving this request (one build for the whole request)."""
    snap: Snapshot | None = g.get("kb_snapshot")
    if snap is None:
        snap = g.kb_snapshot = get_catalog().snapshot()
    return snap


def init_app(app: Flask) -> None:
    """Register the catalog (nothing is opened until the first request needs it)."""
    app.extensions[EXTENSION_KEY] = Catalog(app.config[SETTINGS_KEY])


__all__ = ["FILTERS", "ArticleView", "Catalog", "IndexMissingError", "Snapshot", "get_catalog",
           "get_snapshot", "init_app"]
