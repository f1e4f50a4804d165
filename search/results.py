"""What searches return: plain dataclasses, so nothing above search/ imports Whoosh."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@dataclass(frozen=True)
class SearchRequest:
    """A query as typed, plus filters from the UI (merged with `field:value` in the query)."""

    query: str = ""
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)  # category, tag, product, type, lang, state
    page: int = 1
    limit: int = DEFAULT_LIMIT
    highlight: bool = True
    facets: bool = True


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

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "path": self.path, "score": round(self.score, 4),
                "snippet": self.snippet, "categories": list(self.categories), "tags": list(self.tags),
                "lang": self.lang, "state": self.state}


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
    did_you_mean: str | None = None
    page: int = 1
    limit: int = DEFAULT_LIMIT
    partial: bool = False  # the time limit cut the search short

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
            "did_you_mean": self.did_you_mean,
        }


@dataclass(frozen=True)
class ArticleView:
    """An article as stored in the live build: metadata and the rendered, sanitized HTML."""

    id: str
    title: str
    path: str
    summary: str
    type: str
    state: str
    lang: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    products: tuple[str, ...]
    errors: tuple[str, ...]
    html: str
    toc: tuple[Mapping[str, Any], ...]
    translation_of: str | None
    owner: str
    reviewed: str | None
    review_due: str | None
    aliases: tuple[str, ...]
    related: tuple[str, ...]
    updated: str | None = None  # ISO time of the file's last commit, when the build had git history
    updated_by: str = ""
