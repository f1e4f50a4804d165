"""The Article: what every layer above the loader works with, never raw front-matter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from kb.schema import is_visible

ARTICLE_URL_PREFIX = "/articles/"


def article_url(article_id: str) -> str:
    """The site URL of an article; rendered links are fixed at build time, so it lives here."""
    return ARTICLE_URL_PREFIX + quote(article_id, safe="/")


@dataclass(frozen=True)
class Article:
    """One validated article (front-matter values plus its Markdown body)."""

    id: str
    title: str
    path: str  # relative to the articles folder, forward slashes
    body: str  # Markdown, front-matter removed
    body_line: int  # file line where the body starts
    lang: str
    type: str = "problem"
    state: str = "unverified"
    summary: str = ""
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    translation_of: str | None = None
    owner: str = ""
    reviewed: dt.date | None = None
    review_every: int | None = None
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    field_lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)

    @property
    def url(self) -> str:
        return article_url(self.id)

    @property
    def review_due(self) -> dt.date | None:
        """The date the article should next be reviewed, if it has a review cycle."""
        if self.reviewed is None or self.review_every is None:
            return None
        return self.reviewed + dt.timedelta(days=self.review_every)

    def is_review_overdue(self, today: dt.date | None = None) -> bool:
        """True when the review-due date has passed."""
        due = self.review_due
        return due is not None and due < (today or dt.date.today())

    @property
    def visible(self) -> bool:
        """Drafts never appear on the site (kb.schema.is_visible)."""
        return is_visible(self.state)
