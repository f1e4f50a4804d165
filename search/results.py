"""What searches return: plain dataclasses, so nothing above search/ imports Whoosh."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kb.render import Heading
from kb.schema import is_listed, is_visible

# The search contract, declared once for the CLI, the site, the API and the index:
# the filters a request may carry (also `field:value` in the query), and the page size.
FILTERS = ("category", "tag", "product", "type", "lang", "state")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100  # hits per page: enough for any screen, and a bound on highlighting work


@dataclass(frozen=True)
class SearchRequest:
    """A query as typed, plus filters from the UI (merged with `field:value` in the query)."""

    query: str = ""
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)  # category, tag, product, type, lang, state
    page: int = 1
    limit: int = DEFAULT_LIMIT
    highlight: bool = True
    facets: bool = True
    correct: bool = True  # misspelt words searched as their correction (False: as typed)


@dataclass(frozen=True)
class Hit:
    """One article in a result list; `snippet` is HTML-escaped text with <mark> around matches."""

    id: str
    title: str
    path: str
    score: float
    snippet: str
    summary: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    products: tuple[str, ...]
    type: str
    lang: str
    state: str
    section: Section | None = None  # the best-matching section, to link to
    translations: tuple[Translation, ...] = ()  # the same article in other languages, folded into this hit

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "path": self.path, "score": round(self.score, 4),
                "snippet": self.snippet, "categories": list(self.categories), "tags": list(self.tags),
                "lang": self.lang, "state": self.state,
                "section": {"heading": self.section.heading, "anchor": self.section.anchor} if self.section else None,
                "translations": [{"id": t.id, "lang": t.lang, "title": t.title} for t in self.translations]}


@dataclass(frozen=True)
class Section:
    """A heading of an article and its anchor (the article's URL plus `#anchor` opens it)."""

    heading: str
    anchor: str


@dataclass(frozen=True)
class Translation:
    """Another language's version of a hit."""

    id: str
    lang: str
    title: str


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass(frozen=True)
class Facet:
    """Counts of one filter field's values over every match (not just the page shown)."""

    name: str  # category, tag, product, type, lang
    values: tuple[FacetValue, ...]


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    took_ms: float
    hits: tuple[Hit, ...]
    facets: tuple[Facet, ...] = ()
    did_you_mean: str | None = None  # the corrected query, when misspelt words were corrected
    page: int = 1
    limit: int = DEFAULT_LIMIT
    partial: bool = False  # the time limit cut the search short
    notice: str | None = None  # why nothing was searched (a query with no searchable word)

    @property
    def showing_results_for(self) -> str | None:
        """The corrected query the hits are for, when misspellings were corrected."""
        return self.did_you_mean

    @property
    def search_instead_for(self) -> str | None:
        """The query as typed, to search without corrections, when they were made."""
        return self.query if self.did_you_mean else None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit)) if self.limit else 1

    def to_json(self) -> dict[str, Any]:
        """The JSON `kb search --json` prints and the web API returns."""
        return {
            "query": self.query,
            "total": self.total,
            "took_ms": round(self.took_ms, 2),
            "hits": [h.to_json() for h in self.hits],
            "facets": {f.name: [{"value": v.value, "count": v.count} for v in f.values] for f in self.facets},
            "did_you_mean": self.did_you_mean,  # kept for old clients: the same as showing_results_for
            "showing_results_for": self.showing_results_for,
            "search_instead_for": self.search_instead_for,
            "notice": self.notice,
        }


@dataclass(frozen=True)
class ArticleView:
    """An article as stored in the live build: everything a listing or the metadata panel shows,
    and the rendered, sanitized HTML when it was asked for."""

    id: str
    title: str
    path: str
    lang: str
    summary: str = ""
    type: str = "problem"
    state: str = "unverified"
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    translation_of: str | None = None
    owner: str = ""
    reviewed: dt.date | None = None
    review_due: dt.date | None = None
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    updated: dt.datetime | None = None  # the file's last commit (or, filled in by the site, its mtime)
    updated_by: str = ""
    created: dt.datetime | None = None  # the file's first commit (the article's birth), from the build
    toc: tuple[Heading, ...] = ()
    html: str = ""

    @property
    def visible(self) -> bool:
        """Served at all (kb.schema.is_visible: not a draft)."""
        return is_visible(self.state)

    @property
    def listed(self) -> bool:
        """Shown in listings (kb.schema.is_listed: not a draft, not archived)."""
        return is_listed(self.state)

    @classmethod
    def from_stored(cls, article_id: str, meta: Mapping[str, Any], html: str = "") -> ArticleView:
        """From the `meta` mapping the index stores for an article (see search.schema.article_document)."""
        toc = tuple(Heading(int(h.get("level", 2)), str(h.get("text", "")), str(h.get("anchor", "")))
                    for h in meta.get("toc") or () if isinstance(h, Mapping) and h.get("anchor"))
        return cls(
            id=article_id,
            title=str(meta.get("title") or article_id),
            path=str(meta.get("path") or ""),
            lang=str(meta.get("lang") or "en"),
            summary=str(meta.get("summary") or ""),
            type=str(meta.get("type") or "problem"),
            state=str(meta.get("state") or "unverified"),
            categories=_strings(meta.get("categories")),
            tags=_strings(meta.get("tags")),
            products=_strings(meta.get("products")),
            errors=_strings(meta.get("errors")),
            translation_of=meta.get("translation_of") or None,
            owner=str(meta.get("owner") or ""),
            reviewed=_date(meta.get("reviewed")),
            review_due=_date(meta.get("review_due")),
            aliases=_strings(meta.get("aliases")),
            related=_strings(meta.get("related")),
            updated=parse_datetime(meta.get("updated")),
            updated_by=str(meta.get("updated_by") or ""),
            created=parse_datetime(meta.get("created")),
            toc=toc,
            html=html,
        )

    def is_review_overdue(self, today: dt.date | None = None) -> bool:
        """True when the review-due date has passed."""
        return self.review_due is not None and self.review_due < (today or dt.date.today())

    @property
    def updated_iso(self) -> str:
        """The last change as an RFC 3339 timestamp (for Atom)."""
        when = self.updated or dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.isoformat()


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def parse_datetime(value: Any) -> dt.datetime | None:
    """A datetime from an ISO string (or a datetime); None for anything else."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()
