"""Running the site as a service: a request id on every request and log line, and `/metrics`.

The request id is the `X-Request-ID` the proxy or client sent (when well-formed) or a fresh one;
it is echoed in the response, so nginx, gunicorn's access line and the app's lines agree.
`/metrics` is Prometheus text (search.metrics declares what it holds); restrict who reaches it
at the proxy (deploy/nginx.conf), like /healthz it reveals no article content.
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, g, request

from kb.logs import REQUEST_ID_HEADER, new_request_id, set_request_id
from search.metrics import HTTP_REQUESTS, HTTP_SECONDS, exposition
from web.settings import get_settings

bp = Blueprint("operations", __name__)
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _start() -> None:
    g.request_id = new_request_id(request.headers.get(REQUEST_ID_HEADER))
    g.request_started = time.perf_counter()
    set_request_id(g.request_id)


def _echo(response: Response) -> Response:
    rid = g.get("request_id")
    if rid:
        response.headers[REQUEST_ID_HEADER] = rid
    # The route's endpoint name, not the path: one series per route however many articles there are.
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
    method = request.method if request.method in KNOWN_METHODS else "other"
    HTTP_REQUESTS.labels(method, endpoint, str(response.status_code)).inc()
    started = g.get("request_started")
    if started is not None:
        HTTP_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
    return response


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format: search latency, zero results, refusals, the live build, syncs, record errors."""
    response = Response(exposition(get_settings().index_dir), content_type=PROMETHEUS_CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Tag each request with its id (first of all before_request hooks) and serve /metrics."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_echo)
    app.register_blueprint(bp)
