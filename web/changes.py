"""What changed and what needs review: recent changes, overdue reviews, the Atom feed."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, render_template

from web.catalog import get_snapshot

bp = Blueprint("changes", __name__)
RECENT_LIMIT = 50


@bp.get("/recent")
def recent() -> str:
    """Articles by last change, newest first."""
    return render_template("changes/recent.html", items=get_snapshot().recent(RECENT_LIMIT))


@bp.get("/review-due")
def review_due() -> str:
    """Articles past their review date, grouped by owner."""
    return render_template("changes/review_due.html", groups=get_snapshot().overdue())


@bp.get("/feed.atom")
def feed() -> Response:
    """An Atom feed of recent changes."""
    items = get_snapshot().recent(RECENT_LIMIT)
    updated = items[0].updated_iso if items else dt.datetime.now(dt.UTC).isoformat()
    body = render_template("changes/feed.xml", items=items, feed_updated=updated)
    return Response(body, mimetype="application/atom+xml")
