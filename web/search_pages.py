"""The search results page: snippets, facets with counts, did-you-mean, pagination, zero results."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from search.results import Facet
from web.catalog import FILTERS, Snapshot, get_catalog, get_snapshot
from web.i18n import current_language, translate
from web.records import log_search, search_filters
from web.settings import get_settings

bp = Blueprint("search", __name__)
PER_PAGE = 10
MAX_PAGE = 100
FACET_TITLES = {"category": "Category", "tag": "Tag", "product": "Product", "type": "Type", "lang": "Language"}
FACET_LIMIT = 12


@dataclass(frozen=True)
class FacetLink:
    """One facet value as a link that adds (or removes) it as a filter."""

    label: str
    count: int
    url: str
    selected: bool


@dataclass(frozen=True)
class FacetGroup:
    title: str
    values: list[FacetLink]


@dataclass(frozen=True)
class ActiveFilter:
    label: str
    remove_url: str


def search_url(**params: Any) -> str:
    """A link to the results page with these parameters."""
    return url_for("search.results", **params)


def read_filters(args: MultiDict[str, str]) -> dict[str, str]:
    """The filter parameters present in a request (category=..., tag=..., ...)."""
    return {name: args[name].strip() for name in FILTERS if args.get(name, "").strip()}


def read_int(args: MultiDict[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter, clamped; garbage becomes the default rather than a 500."""
    try:
        value = int(args.get(name, default))
    except ValueError:
        return default
    return max(low, min(high, value))


def value_label(snap: Snapshot, field: str, value: str) -> str:
    """A facet value as a reader of the interface language names it."""
    lang = current_language()
    if field == "category" and value in snap.vocabulary.categories:
        return snap.vocabulary.categories[value].name(lang)
    if field == "tag" and value in snap.vocabulary.tags:
        return snap.vocabulary.tags[value].name(lang)
    if field == "product":
        product_id, _, version = value.partition("@")
        known = snap.vocabulary.products.get(product_id)
        return f"{known.name if known else product_id} {version}".strip()
    if field == "lang":
        return {"en": "English", "zh": "中文"}.get(value, value)
    if field in ("type", "state"):
        return translate(value)
    return value


def page_numbers(page: int, count: int) -> list[int | None]:
    """Page links around the current page, with None for a gap."""
    wanted = {1, count, *range(page - 2, page + 3)}
    out: list[int | None] = []
    for n in sorted(p for p in wanted if 1 <= p <= count):
        if out and out[-1] is not None and n - out[-1] > 1:
            out.append(None)
        out.append(n)
    return out


def facet_groups(snap: Snapshot, query: str, filters: dict[str, str], facets: tuple[Facet, ...]) -> list[FacetGroup]:
    """Facet values as links, the selected one toggling off."""
    by_name = {facet.name: facet for facet in facets}
    groups = []
    for field, title in FACET_TITLES.items():
        facet = by_name.get(field)
        if facet is None or not facet.values:
            continue
        links = []
        for item in facet.values[:FACET_LIMIT]:
            value, count = item.value, item.count
            selected = filters.get(field) == value
            narrowed = {k: v for k, v in filters.items() if k != field}
            if not selected:
                narrowed[field] = value
            links.append(FacetLink(value_label(snap, field, value), count,
                                   search_url(q=query, **narrowed), selected))
        groups.append(FacetGroup(translate(title), links))
    return groups


def new_article_command(query: str, lang: str) -> str:
    """The `kb new` command that starts an article for a query that found nothing."""
    title = query.strip()[:120] or "New article"
    return f"kb new --type problem --lang {lang} {shlex.quote(title)}"


@bp.get("/search")
def results() -> str:
    """Search results, or the zero-result page."""
    args = request.args
    query = args.get("q", "").strip()
    filters = read_filters(args)
    page = read_int(args, "page", 1, 1, MAX_PAGE)
    snap = get_snapshot()
    if not query and not filters:
        return render_template("search/results.html", query="", filters={}, result=None, facets=[],
                               active_filters=[], category_groups=snap.category_groups(), page=1, page_count=0)
    result = get_catalog().search(query, filters, page=page, limit=PER_PAGE, correct=not args.get("verbatim"))
    page_count = min(MAX_PAGE, (result.total + PER_PAGE - 1) // PER_PAGE)
    # One search is logged once: later pages carry its id (sid) instead of logging again.
    search_id = read_int(args, "sid", 0, 0, 2**62) if page > 1 else 0
    if not search_id:
        search_id = log_search(query, search_filters(filters), result.total) or 0

    def page_url(n: int) -> str:
        return search_url(q=query, page=n, sid=search_id or None, **filters)

    active = [ActiveFilter(f"{translate(FACET_TITLES.get(k, k.title()))}: {value_label(snap, k, v)}",
                           search_url(q=query, **{f: x for f, x in filters.items() if f != k}))
              for k, v in filters.items()]
    settings = get_settings()
    context: dict[str, Any] = {
        "query": query, "filters": filters, "result": result, "page": page, "page_count": page_count,
        "page_numbers": page_numbers(page, page_count), "page_url": page_url,
        "first_rank": (page - 1) * PER_PAGE + 1, "active_filters": active,
        "facets": facet_groups(snap, query, filters, result.facets),
        "category_groups": snap.category_groups() if not result.total else [],
        "new_command": new_article_command(query, current_language()),
        "new_article_url": _new_article_url(settings.edit_url_template),
        "search_id": search_id,
    }
    return render_template("search/results.html", **context)


def _new_article_url(template: str) -> str | None:
    """The git host's page for the articles, from the edit template with `{path}` left empty."""
    url = template.replace("{path}", "")
    return url if url.startswith(("http://", "https://")) else None
