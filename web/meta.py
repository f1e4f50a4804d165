"""Site plumbing: the language switch, Pygments CSS, OpenSearch description, sitemap."""

from __future__ import annotations

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from kb.render import pygments_css as render_pygments_css
from web.catalog import get_snapshot
from web.i18n import LANG_COOKIE, LANGUAGES
from web.security import safe_next
from web.settings import get_settings

bp = Blueprint("meta", __name__)
ONE_YEAR = 365 * 24 * 3600


@bp.post("/language")
def set_language() -> BaseResponse:
    """Remember the interface language in a cookie and go back where the reader was."""
    lang = request.form.get("lang", "")
    target = safe_next(request.form.get("next"), url_for("home.index"))
    response = redirect(target, code=303)
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=ONE_YEAR, samesite="Lax", httponly=True,
                            secure=get_settings().secure_cookies)
    return response


@bp.get("/pygments.css")
def pygments_css() -> Response:
    """Code highlighting colours (a file, so the CSP needs no inline styles)."""
    response = make_response(render_pygments_css())
    response.mimetype = "text/css"
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


@bp.get("/opensearch.xml")
def opensearch() -> Response:
    """Lets a browser search the knowledge base from its address bar."""
    body = render_template("meta/opensearch.xml")
    return Response(body, mimetype="application/opensearchdescription+xml")


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """Every article, category and onboarding path."""
    snap = get_snapshot()
    body = render_template("meta/sitemap.xml", articles=snap.listed(), categories=sorted(snap.vocabulary.categories),
                           onboarding=sorted(snap.vocabulary.onboarding))
    return Response(body, mimetype="application/xml")


@bp.get("/robots.txt")
def robots() -> Response:
    """Point crawlers at the sitemap."""
    return Response(f"User-agent: *\nSitemap: {url_for('meta.sitemap', _external=True)}\n", mimetype="text/plain")
