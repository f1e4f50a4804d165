"""The home page: the search box first, categories, onboarding paths, recent changes."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.catalog import get_snapshot

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    """Search box, ticket categories with counts, onboarding paths, recently updated."""
    snap = get_snapshot()
    return render_template("home/index.html", hide_header_search=True, category_groups=snap.category_groups(),
                           onboarding=list(snap.vocabulary.onboarding.values()), recent=snap.recent(8))
