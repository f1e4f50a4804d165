"""What every template can use: the site name, vocabulary names in the reader's language, snippets."""

from __future__ import annotations

from typing import Any

import nh3
from flask import Flask
from markupsafe import Markup

from web.catalog import get_snapshot
from web.i18n import current_language
from web.settings import get_settings

# Search snippets are escaped text with <mark> around matches; anything else is removed.
SNIPPET_TAGS = {"mark"}


def snippet_html(snippet: str) -> Markup:
    """A search snippet, safe to insert: only <mark> survives."""
    return Markup(nh3.clean(snippet, tags=SNIPPET_TAGS, attributes={}))


def category_name(slug: str) -> str:
    """A category's name in the interface language (the slug if unknown)."""
    label = get_snapshot().vocabulary.categories.get(slug)
    return label.name(current_language()) if label else slug


def tag_name(slug: str) -> str:
    """A tag's name in the interface language."""
    label = get_snapshot().vocabulary.tags.get(slug)
    return label.name(current_language()) if label else slug


def product_name(value: str) -> str:
    """`windows@11` as `Windows 11`."""
    product_id, _, version = value.partition("@")
    known = get_snapshot().vocabulary.products.get(product_id)
    return f"{known.name if known else product_id} {version}".strip()


def init_app(app: Flask) -> None:
    """Register the globals and filters."""

    @app.context_processor
    def site() -> dict[str, Any]:
        return {"site_name": get_settings().site_name}

    app.jinja_env.globals.update(category_name=category_name, tag_name=tag_name, product_name=product_name)
    app.jinja_env.filters["snippet"] = snippet_html
