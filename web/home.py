"""The home page: the search box first, categories, onboarding paths, recent changes, most-used solutions."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, render_template

from kb.records.errors import DatabaseUnavailableError
from kb.records.reports import Period
from web.catalog import ArticleView, Snapshot, get_snapshot
from web.records import get_reports

log = logging.getLogger(__name__)
bp = Blueprint("home", __name__)
MOST_USED_DAYS = 90
MOST_USED_LIMIT = 8


def most_used(snap: Snapshot) -> list[tuple[ArticleView, int]]:
    """Articles that resolved the most tickets lately (empty until resolutions are recorded)."""
    try:
        counts = get_reports().usage_counts(Period.last_days(MOST_USED_DAYS, dt.datetime.now(dt.UTC)))
    except DatabaseUnavailableError as exc:
        log.warning("most-used solutions unavailable: %s", exc)
        return []
    used = [(snap.by_id[i], n) for i, n in counts.items() if i in snap.by_id and snap.by_id[i].listed]
    return sorted(used, key=lambda pair: (-pair[1], pair[0].title))[:MOST_USED_LIMIT]


@bp.get("/")
def index() -> str:
    """Search box, ticket categories with counts, onboarding paths, recently updated, most used."""
    snap = get_snapshot()
    return render_template("home/index.html", hide_header_search=True, category_groups=snap.category_groups(),
                           onboarding=list(snap.vocabulary.onboarding.values()), recent=snap.recent(8),
                           most_used=most_used(snap), most_used_days=MOST_USED_DAYS)
