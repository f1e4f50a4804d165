"""Which article an id, alias or path names: the one resolver the loader (links), the records
(`kb link`, `POST /api/resolutions`), the search index and the site all use.

An article is found by its id, by any alias (old ids and old paths) and by its path, each with or
without `.md`, compared case- and Unicode-insensitively (`kb.schema.normalize_id`) and without
surrounding slashes or spaces. Ids come first, so an alias can never shadow another article's id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from kb.schema import normalize_id

INTERNAL_LINK_SCHEME = "kb:"


class Identified(Protocol):
    """What the resolver reads from an article (kb's Article and the site's ArticleView both fit)."""

    @property
    def id(self) -> str: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...
    @property
    def path(self) -> str: ...


def lookup_key(text: str) -> str:
    """The form under which an id, alias or path is compared."""
    return normalize_id(text.strip().strip("/"))


def article_keys(article: Identified) -> list[str]:
    """Every key an article is found by, its id first: its aliases and its path, with and without `.md`."""
    names = [article.id]
    for name in (*article.aliases, article.path):
        names += [name, name.removesuffix(".md")]
    return list(dict.fromkeys(key for key in map(lookup_key, names) if key))


@dataclass
class ArticleIds:
    """Current id for any id, alias or path."""

    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_articles(cls, articles: Iterable[Identified]) -> ArticleIds:
        """Ids first, so an alias can never shadow another article's id."""
        items = list(articles)
        keys: dict[str, str] = {}
        for a in items:
            keys.setdefault(lookup_key(a.id), a.id)
        for a in items:
            for key in article_keys(a):
                keys.setdefault(key, a.id)
        return cls(keys)

    def resolve(self, key: str) -> str | None:
        """The current id, or None when no article has this id, alias or path (a `kb:` prefix is allowed)."""
        key = key.strip()
        if key.startswith(INTERNAL_LINK_SCHEME):
            key = key[len(INTERNAL_LINK_SCHEME):]
        return self.keys.get(lookup_key(key))
