"""Security headers on every response, CSRF tokens for every form, and safe redirect targets."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, session
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

F = TypeVar("F", bound=Callable[..., object])
CSRF_FIELD = "csrf_token"
CSRF_SESSION_KEY = "csrf"
# No inline scripts or styles anywhere: all JavaScript and CSS are files under web/static.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def csrf_token() -> str:
    """The token forms carry in a hidden `csrf_token` field (one per browser session)."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def check_csrf() -> None:
    """Refuse (400) a form POST whose token does not match the session's."""
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_SESSION_KEY)
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form expired or did not come from this site; reload the page and try again.")


def safe_next(target: str | None, fallback: str) -> str:
    """A redirect target on this site only: a path, never another host or scheme."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    return target


def csrf_exempt(view: F) -> F:
    """Mark a view that checks its caller another way (a chat platform's signature) and takes form posts."""
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


def _protect_forms() -> None:
    # A cross-site page can POST forms and text/plain, but not application/json without a CORS
    # preflight this site never answers; JSON API posts are therefore safe without a token.
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype != "application/json":
        view = current_app.view_functions.get(request.endpoint or "")
        if not getattr(view, "csrf_exempt", False):
            check_csrf()


def _add_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Check CSRF on form posts, add security headers, and give templates `csrf_token()`."""

    @app.before_request
    def protect() -> ResponseReturnValue | None:
        _protect_forms()
        return None

    app.after_request(_add_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD
