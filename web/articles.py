"""Reading an article; old ids and aliases answer 301 to its current URL."""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import quote, urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kb.records.errors import DatabaseUnavailableError, InvalidRecordError
from web.catalog import ArticleView, Snapshot, get_catalog, get_snapshot
from web.i18n import translate
from web.records import current_user, get_store
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
    html = get_catalog().article_html(article.id)
    if html is None:
        abort(404)
    settings = get_settings()
    return render_template(
        "articles/show.html", article=article, html=html, translation=snap.translation(article),
        related=related_articles(snap, article), overdue=article.is_review_overdue(dt.date.today()),
        edit_url=git_host_url(settings.edit_url_template, article.path),
        history_url=git_host_url(settings.history_url_template, article.path))


@bp.post("/<path:article_id>/flag")
def flag(article_id: str) -> Response:
    """Flag an article as wrong or outdated: stored for the KCS report when records are set up, always logged."""
    snap = get_snapshot()
    article = snap.by_id.get(article_id)
    if article is None:
        abort(404)
    reason = request.form.get("reason", "").strip()[:2000]
    if not reason:
        abort(400, description=translate("What is wrong?"))
    log.warning("article flagged as wrong or outdated: id=%s owner=%s reason=%r", article.id, article.owner, reason)
    try:
        get_store().flag_article(article=article.id, reason=reason, user=current_user())
    except InvalidRecordError as exc:
        abort(400, description=str(exc))
    except DatabaseUnavailableError as exc:  # the flag is in the log; the page still answers
        log.error("flag not stored: %s", exc)
    flash(translate("Thank you: the owner will be told."))
    return redirect(url_for("articles.show", article_id=article.id), code=303)
