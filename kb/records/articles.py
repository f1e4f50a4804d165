"""What the records layer reads from an article, and which article an id names.

Ids, aliases and paths resolve through kb.ids.ArticleIds (the one resolver), built once from the
loaded articles (the CLI) or from the index's article list (the web process), never by
re-reading the articles on every request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol

from kb.ids import ArticleIds

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


__all__ = ["ArticleIds", "ArticleLike", "Resolver"]
