"""Publishing on the site: the push webhook, the build status page for writers, and /healthz.

The webhook only records the push in the records database (shared by every machine);
`kb sync --watch` on each machine notices it within seconds and does the build. Nothing
is built in the web process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from sqlalchemy import text as sql
from werkzeug.datastructures import Headers

from kb.records.errors import DatabaseUnavailableError
from kb.records.hooks import record_push
from search.build import current_build, read_manifest
from search.sync import SyncProblem, SyncResult, read_history, read_state
from web import openapi
from web.errors import json_error
from web.records import get_database
from web.settings import get_settings

log = logging.getLogger(__name__)

bp = Blueprint("publishing", __name__)
MAX_HOOK_BYTES = 5 * 1024 * 1024  # GitHub caps payloads at 25 MB; a push of a few hundred files fits in 5
HISTORY_SHOWN = 20
EVENT_HEADERS = {"X-GitHub-Event": "github", "X-Gitea-Event": "gitea", "X-Gitlab-Event": "gitlab"}
PING_EVENTS = frozenset({"ping"})




# -- the webhook -------------------------------------------------------------------------------------
def verify_push(secret: str, body: bytes, headers: Headers | dict[str, str]) -> str | None:
    """The git host that signed this request with the shared secret, or None if nothing verifies.

    GitHub and Gitea: `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>` (Gitea also sends
    the bare digest as `X-Gitea-Signature`); GitLab: the secret itself in `X-Gitlab-Token`.
    """
    if not secret:
        return None
    key = secret.encode("utf-8")
    digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    host = "gitea" if "X-Gitea-Event" in headers else "github"
    signature = headers.get("X-Hub-Signature-256", "")
    if signature and hmac.compare_digest(signature.strip().encode(), f"sha256={digest}".encode()):
        return host
    gitea = headers.get("X-Gitea-Signature", "")
    if gitea and hmac.compare_digest(gitea.strip().lower().encode(), digest.encode()):
        return "gitea"
    token = headers.get("X-Gitlab-Token", "")
    if token and hmac.compare_digest(token.encode("utf-8"), key):
        return "gitlab"
    return None


def _event(headers: Headers) -> str:
    for header in EVENT_HEADERS:
        if header in headers:
            return headers[header].strip().lower()
    return ""


@bp.post("/api/hooks/git")
def git_hook() -> Response:
    """Record a push announced by GitHub, Gitea or GitLab; `kb sync --watch` builds it."""
    settings = get_settings()
    request.max_content_length = MAX_HOOK_BYTES  # push payloads outgrow the site's 64 KB form limit
    body = request.get_data(cache=False)
    host = verify_push(settings.hook_secret, body, request.headers)
    if host is None:
        # One answer for every failure (no secret set, no signature, wrong one): nothing to probe.
        return json_error(401, "unauthorized", "the request is not signed with KB_HOOK_SECRET "
                      "(X-Hub-Signature-256 or X-Gitlab-Token)")
    event = _event(request.headers)
    if event in PING_EVENTS:
        return jsonify(ok=True, message="pong")
    try:
        payload = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, ValueError):
        return json_error(400, "bad request",
                          "the body is not JSON; set the webhook's content type to application/json")
    payload = payload if isinstance(payload, dict) else {}
    ref = str(payload.get("ref") or "")
    wanted = f"refs/heads/{settings.sync_branch}"
    if ref and ref != wanted:
        response = jsonify(queued=False, message=f"{ref} is not {wanted}; nothing to do")
        response.status_code = 202
        return response
    commit = str(payload.get("after") or payload.get("checkout_sha") or "")
    delivery = request.headers.get("X-GitHub-Delivery") or request.headers.get("X-Gitea-Delivery") or \
        request.headers.get("X-Gitlab-Event-UUID") or ""
    try:
        push_id = record_push(get_database(), host, ref, commit, delivery, dt.datetime.now(dt.UTC))
    except DatabaseUnavailableError as exc:
        log.error("webhook push not recorded: %s", exc)
        return json_error(503, "unavailable", "the records database is unavailable; the git host will retry")
    log.info("push %d from %s recorded: %s %s", push_id, host, ref, commit[:10])
    response = jsonify(queued=True, id=push_id, commit=commit)
    response.status_code = 202
    return response


def _answer(description: str, ref: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{ref}"}}}}


OPENAPI_PATHS: dict[str, Any] = {
    "/api/hooks/git": {"post": {
        "summary": "Push webhook for GitHub, Gitea and GitLab (content type application/json); "
                   "`kb sync --watch` builds the push within seconds.",
        "description": "Signed with KB_HOOK_SECRET: `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>` "
                       "(GitHub, Gitea) or `X-Gitlab-Token: <secret>` (GitLab).",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"202": {"description": "Recorded (or another branch: nothing to do)."},
                      "200": {"description": "A ping, answered."},
                      "400": _answer("The body is not JSON."),
                      "401": _answer("Not signed with the shared secret (or no secret is set)."),
                      "503": _answer("The records database is unavailable; the git host retries.")}}},
}


# -- build status ------------------------------------------------------------------------------------
def _problem_json(problem: SyncProblem) -> dict[str, Any]:
    return {"text": str(problem), "path": problem.path, "line": problem.line, "severity": problem.severity,
            "message": problem.message, "author": problem.author, "commit": problem.commit, "served": problem.served}


def _sync_json(result: SyncResult) -> dict[str, Any]:
    data = result.to_json()
    data.pop("problems")
    data["errors"] = len(result.errors)
    data["warnings"] = len(result.problems) - len(result.errors)
    return data


def build_status() -> dict[str, Any]:
    """What the status page shows: the live build, the last syncs and every current problem."""
    settings = get_settings()
    manifest = read_manifest(settings.index_dir) or {}
    state = read_state(settings.index_dir)
    history = read_history(settings.index_dir, HISTORY_SHOWN)
    if state.last is not None:
        problems = [_problem_json(p) for p in state.last.problems]
    else:  # built with `kb build`, never synced: the manifest's errors, without authors
        problems = [{"text": line, "path": line.split(":", 1)[0], "severity": "error"}
                    for line in manifest.get("errors", [])]
    return {
        "live": {
            "commit": manifest.get("git_commit"),
            "built_at": manifest.get("built_at"),
            "articles": manifest.get("articles"),
            "mode": manifest.get("mode"),
        } if manifest else None,
        "branch": settings.sync_branch,
        "last_sync": _sync_json(state.last) if state.last else None,
        "syncs": [_sync_json(r) for r in history],
        "problems": problems,
    }


@bp.get("/status")
def status() -> str:
    """The build status page for writers."""
    return render_template("publishing/status.html", status=build_status())


@bp.get("/status.json")
def status_json() -> Response:
    """The build status as JSON (for scripts and chat bots)."""
    return jsonify(build_status())


# -- health ------------------------------------------------------------------------------------------
@bp.get("/healthz")
def healthz() -> Response:
    """200 when the index is present and the database answers; 503 otherwise. Names the live commit."""
    settings = get_settings()
    checks: dict[str, str] = {}
    live = current_build(settings.index_dir)
    manifest = read_manifest(settings.index_dir) if live else None
    checks["index"] = "ok" if manifest is not None else "missing: run `kb sync` or `kb build`"
    try:
        with get_database().connect() as conn:
            conn.execute(sql("SELECT 1"))
        checks["database"] = "ok"
    except DatabaseUnavailableError as exc:
        checks["database"] = f"unreachable: {exc}"
    ok = all(value == "ok" for value in checks.values())
    response = jsonify(ok=ok, commit=(manifest or {}).get("git_commit"), **checks)
    response.status_code = 200 if ok else 503
    response.cache_control.no_store = True
    return response


def init_app(app: Flask) -> None:
    """Register the webhook, status and health routes, and their part of /api/openapi.json."""
    app.register_blueprint(bp)
    openapi.register(app, OPENAPI_PATHS)
