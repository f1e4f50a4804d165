"""Security headers on every response, CSRF tokens for every form, safe redirect targets, the Host
header checked against KB_TRUSTED_HOSTS, and who sent a request (the reverse proxy or not)."""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, jsonify, request, session
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from web.settings import get_settings

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
    """A redirect target on this site only: a path, never another host or scheme (nor a header break)."""
    if not target or _CONTROL.search(target):
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
    # preflight this site never answers; JSON posts are therefore safe without a token. Every POST
    # under /api/ answers for itself: it takes only application/json (415 otherwise) or a signed
    # body (the webhook), so a wrong Content-Type there gets 415, not "the form expired".
    # The chat endpoints take the platforms' form posts and check their signatures instead (csrf_exempt).
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith(API_PREFIX):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if request.mimetype != "application/json" and not getattr(view, "csrf_exempt", False):
        check_csrf()


# -- the request line --------------------------------------------------------------------------------
# A pasted stack trace or error log is a fair query (the search reads its first part). The app, not
# the server, refuses a longer URL, so the answer is JSON (or a page) with the security headers:
# gunicorn's limit_request_line (deploy/gunicorn.conf.py) and nginx's large_client_header_buffers
# are set above this (`kb serve`'s development server stops at 64 KiB).
MAX_URL_BYTES = 256 * 1024


def _check_url_length() -> None:
    environ = request.environ
    length = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", ""))
    if length > MAX_URL_BYTES:
        abort(414, description=f"the address is {length:,} bytes long; the limit is {MAX_URL_BYTES:,} "
                               "(send long text with POST /api/suggest)")


# -- the Host header ---------------------------------------------------------------------------------
# Load balancers and monitors call these by an address, not by the site's name.
HEALTH_PATHS = frozenset({"/livez", "/readyz", "/healthz"})
API_PREFIX = "/api/"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_PORT = re.compile(r"[0-9]{1,5}")
MAX_HOST_CHARS = 253  # DNS: a name is at most 253 characters, each label at most 63


def host_name(raw: str) -> str | None:
    """The Host header's name, lower-cased and without port or final dot; None when it is no valid host."""
    raw = raw.strip().lower()
    if raw.startswith("["):  # an IPv6 address: [::1]:8080
        address, _, rest = raw[1:].partition("]")
        if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
            return None
        try:
            return f"[{ipaddress.IPv6Address(address).compressed}]"
        except ValueError:
            return None
    name, colon, port = raw.partition(":")
    if colon and not _PORT.fullmatch(port):
        return None
    name = name.removesuffix(".")
    if not name or len(name) > MAX_HOST_CHARS or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return None
    return name


@lru_cache(maxsize=8)
def _trusted(setting: str) -> tuple[str, ...]:
    return tuple(h.strip().lower().removesuffix(".") for h in setting.split(",") if h.strip())


def host_is_trusted(name: str, trusted: tuple[str, ...]) -> bool:
    """True when name is one of trusted (compared case-insensitively); `.example.com` also admits subdomains."""
    for allowed in trusted:
        if name == allowed or (allowed.startswith(".") and (name == allowed[1:] or name.endswith(allowed))):
            return True
    return False


def _check_host() -> ResponseReturnValue | None:
    if request.path in HEALTH_PATHS:
        return None
    name = host_name(request.environ.get("HTTP_HOST") or request.environ.get("SERVER_NAME", ""))
    trusted = _trusted(get_settings().trusted_hosts)
    if name is None:
        message = "the Host header is not a valid host name"
    elif trusted and not host_is_trusted(name, trusted):
        message = f"this site does not answer to the host {name[:100]!r} (KB_TRUSTED_HOSTS)"
    else:
        return None
    # No page: with an untrusted or broken Host no URL can be built, so the answer is plain.
    response: Response = (jsonify(error="bad request", message=message) if request.path.startswith(API_PREFIX)
                          else Response(message + "\n", mimetype="text/plain"))
    response.status_code = 400
    return response


# -- who sent the request ----------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _networks(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip())


def parse_proxy_ips(setting: str) -> None:
    """Raise ValueError when KB_PROXY_IPS is not a comma-separated list of addresses or networks."""
    _networks(setting)


def from_proxy() -> bool:
    """True when the request's peer is one of KB_PROXY_IPS: only then do the proxy's headers count."""
    try:
        peer = ipaddress.ip_address((request.remote_addr or "").strip("[]"))
    except ValueError:
        return False
    return any(peer in network for network in _networks(get_settings().proxy_ips))


def _add_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Check CSRF on form posts, add security headers, and give templates `csrf_token()`."""

    @app.before_request
    def protect() -> ResponseReturnValue | None:
        _check_url_length()
        refused = _check_host()
        if refused is not None:
            return refused
        _protect_forms()
        return None

    app.after_request(_add_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD
