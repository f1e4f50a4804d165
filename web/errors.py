"""The one place errors become pages: 404 (with a search box, and old URLs redirected),
400 for a bad query, 503 while no index is built. API routes answer JSON instead."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, HTTPException, NotFound, SecurityError

from search.errors import IndexMissingError, QueryError
from web.i18n import translate
from web.settings import get_settings

log = logging.getLogger(__name__)


def json_error(status: int, error: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The one JSON error body of the site, `{"error": short name, "message": what to do}` (the
    OpenAPI `Error` schema), with its status and headers; every JSON route answers errors with it."""
    response = jsonify(error=error, message=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def build_command() -> str:
    """The command that builds the index this site reads."""
    settings = get_settings()
    return f"kb build --articles {settings.articles_dir} --index {settings.index_dir}"


def _not_found(exc: NotFound) -> ResponseReturnValue:
    if _wants_json():
        return json_error(404, "not found", exc.description or "")
    # An old path or alias anywhere on the site answers 301 to the article it became.
    if request.method in ("GET", "HEAD") and not request.path.startswith("/static/"):
        from web.articles import redirect_if_known
        from web.catalog import get_snapshot

        try:
            moved = redirect_if_known(get_snapshot(), request.path.lstrip("/"))
        except IndexMissingError:
            moved = None
        if moved is not None:
            return moved
    return render_template("errors/404.html", hide_header_search=True), 404


def _bad_request(message: str) -> ResponseReturnValue:
    if _wants_json():
        return json_error(400, "bad request", message)
    return render_template("errors/400.html", message=message, hide_header_search=True), 400


def _index_missing(exc: IndexMissingError) -> ResponseReturnValue:
    command = build_command()
    if _wants_json():
        return json_error(503, "index not built", f"{exc} Build it with: {command}", {"Retry-After": "30"})
    return (render_template("errors/503.html", build_command=command, message=str(exc)), 503,
            {"Retry-After": "30"})


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    if isinstance(exc, SecurityError):  # an untrusted Host: no URLs can be built, so no page
        return exc
    if isinstance(exc, NotFound):
        return _not_found(exc)
    if isinstance(exc, BadRequest):
        return _bad_request(exc.description or translate("Bad request"))
    if _wants_json():
        return json_error(exc.code or 500, exc.name.lower(), exc.description or "")
    return exc


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(QueryError, lambda exc: _bad_request(str(exc)))
    app.register_error_handler(IndexMissingError, _index_missing)
