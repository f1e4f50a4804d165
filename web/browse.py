"""Browsing by ticket category, tag and product."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from web.catalog import ArticleView, get_snapshot
from web.records import solution_scores

bp = Blueprint("browse", __name__)
PER_PAGE = 50


def best_first(items: list[ArticleView]) -> list[ArticleView]:
    """Most-used solutions first (resolutions, decayed with age, once records exist), then validated ones."""
    scores = solution_scores()
    if not scores:
        return items
    return sorted(items, key=lambda a: -scores.get(a.id, 0.0))  # stable: keeps validated-first within ties


def paged(items: list[ArticleView]) -> dict[str, Any]:
    """One page of a long listing (`?page=`), with what the pagination links need."""
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    pages = max(1, -(-len(items) // PER_PAGE))
    page = min(page, pages)
    return {"items": items[(page - 1) * PER_PAGE: page * PER_PAGE], "page": page, "pages": pages,
            "total": len(items)}


@bp.get("/categories")
def categories() -> str:
    """Every ticket category with its article count."""
    return render_template("browse/categories.html", category_groups=get_snapshot().category_groups())


@bp.get("/categories/<path:slug>")
def category(slug: str) -> str:
    """A ticket category: its subcategories and its solutions, best first."""
    snap = get_snapshot()
    label = snap.vocabulary.categories.get(slug)
    if label is None:
        abort(404)
    parts = slug.split("/")
    parents = [snap.vocabulary.categories["/".join(parts[:n])] for n in range(1, len(parts))
               if "/".join(parts[:n]) in snap.vocabulary.categories]
    children = [(child, snap.category_counts.get(child.slug, 0))
                for child in snap.vocabulary.categories.values() if child.parent == slug]
    return render_template("browse/category.html", label=label, parents=parents, children=children,
                           **paged(best_first(snap.in_category(slug))))


@bp.get("/tags/<slug>")
def tag(slug: str) -> str:
    """Articles with a tag."""
    snap = get_snapshot()
    label = snap.vocabulary.tags.get(slug)
    if label is None:
        abort(404)
    return render_template("browse/tag.html", label=label, **paged(snap.with_tag(slug)))


@bp.get("/products/<product_id>")
def product(product_id: str) -> str:
    """Articles about a product."""
    snap = get_snapshot()
    known = snap.vocabulary.products.get(product_id)
    if known is None:
        abort(404)
    return render_template("browse/product.html", product=known, **paged(snap.about_product(product_id)))
