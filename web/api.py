"""The JSON API: search (the same JSON as `kb search --json`), articles, categories, suggest, OpenAPI."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from search.complete import DEFAULT_LIMIT as COMPLETE_LIMIT
from search.complete import MAX_LIMIT as MAX_COMPLETE_LIMIT
from search.complete import MAX_PREFIX_CHARS as MAX_COMPLETE_CHARS
from search.results import DEFAULT_LIMIT, FILTERS, MAX_LIMIT
from web.catalog import ArticleView, get_catalog, get_snapshot
from web.jsonbody import read_json_body
from web.openapi import app_document
from web.records import log_search, search_filters
from web.search_pages import read_int
from web.settings import get_settings

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_TICKET_CHARS = 20_000
SEARCH_ID_HEADER = "X-KB-Search-Id"
MAX_SUGGEST_BYTES = 64 * 1024  # the site's MAX_CONTENT_LENGTH: room for MAX_TICKET_CHARS of ticket text


def article_json(article: ArticleView) -> dict[str, Any]:
    """An article's metadata as JSON."""
    return {
        "id": article.id,
        "title": article.title,
        "path": article.path,
        "url": url_for("articles.show", article_id=article.id, _external=True),
        "lang": article.lang,
        "type": article.type,
        "state": article.state,
        "summary": article.summary,
        "categories": list(article.categories),
        "tags": list(article.tags),
        "products": list(article.products),
        "errors": list(article.errors),
        "owner": article.owner,
        "translation_of": article.translation_of,
        "reviewed": article.reviewed.isoformat() if article.reviewed else None,
        "review_due": article.review_due.isoformat() if article.review_due else None,
        "updated": article.updated.isoformat() if article.updated else None,
        "updated_by": article.updated_by or None,
        "aliases": list(article.aliases),
        "related": list(article.related),
        "toc": [{"level": h.level, "text": h.text, "anchor": h.anchor} for h in article.toc],
    }


@bp.get("/search")
def search() -> Response:
    """Search: q, limit, page and the filters (each may repeat); the JSON of `kb search --json`."""
    args = request.args
    query = args.get("q", "").strip()
    limit = read_int(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    page = read_int(args, "page", 1, 1, 1000)
    filters = {name: values for name in FILTERS if (values := [v.strip() for v in args.getlist(name) if v.strip()])}
    result = get_catalog().search(query, filters, page=page, limit=limit, correct=not args.get("verbatim"))
    response = jsonify(result.to_json())
    # The search box asks as the user types (as_you_type=1): those keystrokes are not logged; the
    # query they settle on is, when they submit it or pick a suggestion (/go/typed/...).
    if page == 1 and args.get("as_you_type") != "1":
        _search_id_header(response, log_search(query, search_filters(filters), result.total, source="api"))
    return response


def _search_id_header(response: Response, search_id: int | None) -> None:
    """The logged search's id, sent back as `search_id` with feedback or a resolution (the body stays the
    JSON of `kb search`)."""
    if search_id is not None:
        response.headers[SEARCH_ID_HEADER] = str(search_id)


def _completion_url(kind: str, target: str) -> str:
    if kind in ("title", "id"):
        return url_for("articles.show", article_id=target)
    if kind == "product":
        return url_for("browse.product", product_id=target)
    return url_for("search.results", q=target)


@bp.get("/complete")
def complete() -> Response:
    """What the reader is typing, completed: titles, error codes, ids and products it starts, best first."""
    prefix = request.args.get("q", "")
    if len(prefix) > MAX_COMPLETE_CHARS:
        abort(400, description=f"q must be at most {MAX_COMPLETE_CHARS} characters")
    limit = read_int(request.args, "limit", COMPLETE_LIMIT, 1, MAX_COMPLETE_LIMIT)
    found = get_catalog().complete(prefix.lstrip(), limit) if prefix.strip() else []
    return jsonify({"query": prefix, "search_url": url_for("search.results", q=prefix.strip()),
                    "completions": [{**c.to_json(), "url": _completion_url(c.kind, c.target)} for c in found]})


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> BaseResponse:
    """An article's metadata and rendered HTML; an alias answers 301 to the current id."""
    snap = get_snapshot()
    found = snap.by_id.get(article_id)
    if found is None:
        target = snap.resolve(article_id)
        if target is None:
            abort(404, description=f"no article has id {article_id!r}")
        return redirect(url_for("api.article", article_id=target), code=301)
    html = get_catalog().article_html(found.id) or ""
    return jsonify({**article_json(found), "html": html})


@bp.get("/categories")
def categories() -> Response:
    """Ticket categories with their names in both languages and article counts."""
    snap = get_snapshot()
    return jsonify({"categories": [
        {"slug": label.slug, "parent": label.parent, "zh": label.zh, "en": label.en, "count": count,
         "url": url_for("browse.category", slug=label.slug, _external=True)}
        for label, count, _depth in snap.category_tree()]})


@bp.route("/suggest", methods=["GET", "POST"])
def suggest() -> Response:
    """A ticket's subject and description in, the best articles out (optionally within a category)."""
    if request.method == "POST":
        data = read_json_body(MAX_SUGGEST_BYTES)
        if not isinstance(data, dict):
            abort(400, description="send a JSON object: {\"subject\": ..., \"description\": ..., \"category\": ...}")
        fields = {k: data.get(k) for k in ("subject", "description", "category", "limit")}
    else:
        fields = {k: request.args.get(k) for k in ("subject", "description", "category", "limit")}
    subject = fields["subject"] if isinstance(fields["subject"], str) else ""
    description = fields["description"] if isinstance(fields["description"], str) else ""
    category = fields["category"] if isinstance(fields["category"], str) and fields["category"] else None
    try:
        limit = max(1, min(MAX_LIMIT, int(fields["limit"] or 5)))
    except (TypeError, ValueError):
        limit = 5
    if not (subject.strip() or description.strip()):
        abort(400, description="give a ticket subject or description")
    if len(subject) + len(description) > MAX_TICKET_CHARS:
        abort(400, description=f"subject and description together must be under {MAX_TICKET_CHARS} characters")
    hits = get_catalog().suggest(subject, description, category, limit)
    response = jsonify({"subject": subject, "category": category, "hits": hits})
    _search_id_header(response, log_search(subject or description[:200], search_filters({"category": category or ""}),
                                           len(hits), source="suggest"))
    return response


CORS_ENDPOINTS = frozenset({"api.suggest", "api.search"})
CORS_MAX_AGE = 600  # browsers cache the preflight for ten minutes


@bp.after_request
def _cors(response: Response) -> Response:
    """Agent sidebars (Zendesk, Freshdesk, ServiceNow apps) call suggest and search from their own origin:
    allowed only for the origins listed in KB_CORS_ORIGINS, and never with cookies."""
    if request.endpoint not in CORS_ENDPOINTS:
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin", "")
    allowed = {o.strip().rstrip("/") for o in get_settings().cors_origins.split(",") if o.strip()}
    if origin and origin.rstrip("/") in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, X-Request-ID"
            response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE)
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API, with the routes every feature registered."""
    return jsonify(app_document(current_app, request.host_url.rstrip("/")))
