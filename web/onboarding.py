"""Onboarding paths as ordered checklists; progress lives in the reader's browser."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from web.catalog import get_snapshot

bp = Blueprint("onboarding", __name__, url_prefix="/onboarding")


@bp.get("/")
def index() -> str:
    """Every onboarding path with its audience."""
    return render_template("onboarding/index.html", paths=list(get_snapshot().vocabulary.onboarding.values()))


@bp.get("/<path_id>")
def show(path_id: str) -> str:
    """One path as a checklist of its articles, in order."""
    snap = get_snapshot()
    path = snap.vocabulary.onboarding.get(path_id)
    if path is None:
        abort(404)
    steps = []
    for step in path.steps:  # a step whose article was deleted (a warning on /status) is skipped
        found = snap.resolve(step)
        if found and found in snap.by_id:
            steps.append((step, snap.by_id[found]))
    return render_template("onboarding/show.html", path=path, steps=steps)
