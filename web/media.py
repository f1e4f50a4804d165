"""Images and attachments of articles, served from the live index build (never from the checkout).

URLs are `/media/<digest>/<file name>` as the build wrote them into the article HTML; the digest
changes with the file's content, so browsers may cache a file for a year. Only a digest listed
in the build's media.json reaches the disk; the file name must match it too.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_file
from werkzeug.wrappers import Response

from search.media import MediaShelf
from web.catalog import get_catalog

bp = Blueprint("media", __name__, url_prefix="/media")
EXTENSION_KEY = "kb_media"
ONE_YEAR = 365 * 24 * 3600


class _Shelves:
    """The media shelf of the live build, re-read when a new build is swapped in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shelf: MediaShelf | None = None

    def for_build(self, build_dir: Path) -> MediaShelf:
        with self._lock:
            if self._shelf is None or self._shelf.build_dir != build_dir:
                self._shelf = MediaShelf(build_dir)
            return self._shelf


@bp.get("/<digest>/<path:name>")
def file(digest: str, name: str) -> Response:
    """One image or attachment: its own content type, `nosniff`, cached for a year (the URL changes
    when the file does); attachments that are not shown inline are downloaded."""
    build_dir = get_catalog().service.handle.snapshot().build_dir
    shelves: _Shelves = current_app.extensions[EXTENSION_KEY]
    stored = shelves.for_build(build_dir).find(digest, name)
    if stored is None or not stored.file.is_file():
        abort(404, description="no such image or attachment in the published articles")
    response = send_file(stored.file, mimetype=stored.content_type, as_attachment=not stored.inline,
                         download_name=stored.name, conditional=True, etag=stored.digest, max_age=ONE_YEAR)
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def init_app(app: Flask) -> None:
    """Register the route and the per-process shelf."""
    app.extensions[EXTENSION_KEY] = _Shelves()
    app.register_blueprint(bp)
