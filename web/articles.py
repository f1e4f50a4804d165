"""Reading an article; old ids and aliases answer 301 to its current URL.

The forms on the page (solved a ticket, was this helpful, flags) are web/records.py's.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, abort, redirect, render_template, url_for
from werkzeug.wrappers import Response

from web.catalog import ArticleView, Snapshot, get_catalog, get_snapshot
from web.settings import get_settings

log = logging.getLogger(__name__)
bp = Blueprint("articles", __name__, url_prefix="/articles")
RELATED_LIMIT = 6


def git_host_url(template: str, path: str) -> str | None:
    """A URL from an edit/history template with `{path}` filled in; only http(s) URLs are used."""
    if not template or not path:
        return None
    url = template.replace("{path}", quote(path, safe="/"))
    return url if urlsplit(url).scheme in ("http", "https") else None


def related_articles(snap: Snapshot, article: ArticleView) -> list[ArticleView]:
    """The writer's `related` list first, then the best articles in the same ticket categories.

    (The index's "more like this" takes about a second at 10,000 articles, too slow for every
    page view; see web/README.md.)
    """
    chosen: list[ArticleView] = []
    seen = {article.id}
    translation = snap.translations.get(article.id)
    if translation:
        seen.add(translation)
    for key in article.related:
        found = snap.resolve(key)
        if found and found not in seen:
            chosen.append(snap.by_id[found])
            seen.add(found)
    for category in article.categories:
        for other in snap.in_category(category):
            if len(chosen) >= RELATED_LIMIT:
                return chosen
            if other.id not in seen and other.lang == article.lang:
                chosen.append(other)
                seen.add(other.id)
    return chosen


def redirect_if_known(snap: Snapshot, key: str) -> Response | None:
    """301 to the current URL for an alias, an old path or an id in another case."""
    target = snap.resolve(key)
    if target is None:
        return None
    return redirect(url_for("articles.show", article_id=target), code=301)


@bp.get("/<path:article_id>")
def show(article_id: str) -> str | Response:
    """The article: body with contents, metadata panel, translation, related, edit and history links."""
    snap = get_snapshot()
    article = snap.by_id.get(article_id)
    if article is None:
        moved = redirect_if_known(snap, article_id)
        if moved is None:
            abort(404)
        return moved
    return article_page(article)


def article_page(article: ArticleView, **extra: Any) -> str:
    """The article page; the records forms pass `extra` (their input and error) when they answer in place."""
    snap = get_snapshot()
    html = get_catalog().article_html(article.id)
    if html is None:
        abort(404)
    settings = get_settings()
    return render_template(
        "articles/show.html", article=article, html=html, translation=snap.translation(article),
        related=related_articles(snap, article), overdue=article.is_review_overdue(dt.date.today()),
        edit_url=git_host_url(settings.edit_url_template, article.path),
        history_url=git_host_url(settings.history_url_template, article.path), **extra)
