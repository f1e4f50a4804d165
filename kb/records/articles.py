"""Which article an id names: current ids, their aliases and old paths resolve to the current id.

Built once from the loaded articles (the CLI) or from the index's article list (the web
process), never by re-reading the articles on every request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from kb.schema import normalize_id

Resolver = Callable[[str], str | None]


class ArticleLike(Protocol):
    """What the records layer reads from an article (kb's Article and the web's metadata both fit)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def categories(self) -> tuple[str, ...]: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...
    @property
    def owner(self) -> str: ...
    @property
    def review_due(self) -> dt.date | None: ...


@dataclass
class ArticleIds:
    """Current id for any id, alias or old path (case- and Unicode-insensitive)."""

    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_articles(cls, articles: Iterable[ArticleLike]) -> ArticleIds:
        """Ids first, so an alias can never shadow another article's id."""
        items = list(articles)
        keys: dict[str, str] = {}
        for a in items:
            keys.setdefault(normalize_id(a.id), a.id)
        for a in items:
            for alias in a.aliases:
                keys.setdefault(normalize_id(alias), a.id)
                keys.setdefault(normalize_id(alias.removesuffix(".md")), a.id)
            keys.setdefault(normalize_id(a.path), a.id)
            keys.setdefault(normalize_id(a.path.removesuffix(".md")), a.id)
        return cls(keys)

    def resolve(self, key: str) -> str | None:
        """The current id, or None when no article has this id, alias or path."""
        return self.keys.get(normalize_id(key.strip().strip("/")))
