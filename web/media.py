"""Images and attachments of articles, served from the live index build (never from the checkout).

URLs are `/media/<digest>/<file name>` as the build wrote them into the article HTML; the digest
changes with the file's content, so browsers may cache a file for a year. Only a digest listed
in the build's media.json reaches the disk; the file name must match it too.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, send_file
from werkzeug.wrappers import Response

from search.media import MediaShelf
from web.catalog import get_catalog

bp = Blueprint("media", __name__, url_prefix="/media")
ONE_YEAR = 365 * 24 * 3600


@bp.get("/<digest>/<path:name>")
def file(digest: str, name: str) -> Response:
    """One image or attachment: its own content type, `nosniff`, cached for a year (the URL changes
    when the file does); attachments that are not shown inline are downloaded."""
    stored = get_catalog().per_build("media", MediaShelf).find(digest, name)
    if stored is None or not stored.file.is_file():
        abort(404, description="no such image or attachment in the published articles")
    response = send_file(stored.file, mimetype=stored.content_type, as_attachment=not stored.inline,
                         download_name=stored.name, conditional=True, etag=stored.digest, max_age=ONE_YEAR)
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def init_app(app: Flask) -> None:
    """Register the route."""
    app.register_blueprint(bp)
