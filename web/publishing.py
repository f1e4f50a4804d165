"""Publishing on the site: the push webhook, the build status page for writers, and the health routes.

The webhook only records the push in the records database (shared by every machine);
`kb sync --watch` on each machine notices it within seconds and does the build. Nothing
is built in the web process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from sqlalchemy import make_url
from sqlalchemy import text as sql
from werkzeug.datastructures import Headers

from kb.records.errors import DatabaseUnavailableError
from kb.records.hooks import record_push
from search.build import read_manifest
from search.errors import IndexMissingError
from search.sync import SyncProblem, SyncResult, read_history, read_state
from web import openapi
from web.catalog import get_snapshot
from web.errors import json_error
from web.jsonbody import parse_json
from web.records import get_database
from web.settings import get_settings

log = logging.getLogger(__name__)

bp = Blueprint("publishing", __name__)
MAX_HOOK_BYTES = 5 * 1024 * 1024  # GitHub caps payloads at 25 MB; a push of a few hundred files fits in 5
HISTORY_SHOWN = 20
EVENT_HEADERS = {"X-GitHub-Event": "github", "X-Gitea-Event": "gitea", "X-Gitlab-Event": "gitlab"}
PING_EVENTS = frozenset({"ping"})
PUSH_EVENTS = frozenset({"push", "push hook"})  # GitHub and Gitea; GitLab's X-Gitlab-Event: Push Hook




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
    if request.mimetype == "application/x-www-form-urlencoded":
        return json_error(415, "unsupported media type", "set the webhook's content type to application/json")
    payload = parse_json(body) if body.strip() else {}
    if not isinstance(payload, dict):
        return json_error(400, "bad request", "the push payload must be a JSON object")
    if event and event not in PUSH_EVENTS:
        response = jsonify(queued=False, message=f"{event[:40]} events are not pushes; nothing to do")
        response.status_code = 202
        return response
    ref = payload.get("ref")
    if not isinstance(ref, str) or not ref:
        return json_error(400, "bad request", "not a push payload: it has no \"ref\" naming the branch")
    wanted = f"refs/heads/{settings.sync_branch}"
    if ref and ref != wanted:
        response = jsonify(queued=False, message=f"{ref} is not {wanted}; nothing to do")
        response.status_code = 202
        return response
    commit = next((v for v in (payload.get("after"), payload.get("checkout_sha")) if isinstance(v, str) and v), "")
    delivery = request.headers.get("X-GitHub-Delivery") or request.headers.get("X-Gitea-Delivery") or \
        request.headers.get("X-Gitlab-Event-UUID") or ""
    try:
        push = record_push(get_database(), host, ref, commit, delivery, dt.datetime.now(dt.UTC))
    except DatabaseUnavailableError as exc:
        log.error("webhook push not recorded: %s", exc)
        return json_error(503, "unavailable", "the records database is unavailable; the git host will retry")
    if not push.created:  # a redelivery or a replay of a signed request: the push is queued once
        log.info("push delivery %s from %s already recorded as push %d", delivery[:100], host, push.id)
        return jsonify(queued=False, duplicate=True, id=push.id, commit=commit,
                       message=f"delivery {delivery[:100]} was already recorded; nothing to do")
    log.info("push %d from %s recorded: %s %s", push.id, host, ref, commit[:10])
    response = jsonify(queued=True, id=push.id, commit=commit)
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
                      "200": {"description": "A ping, answered; or this delivery id (X-GitHub-Delivery, "
                                             "X-Gitea-Delivery, X-Gitlab-Event-UUID) was already recorded."},
                      "400": _answer("The body is not a JSON object."),
                      "415": _answer("Sent as a form; set the content type to application/json."),
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
# /livez: the process answers. /readyz: this machine's index serves searches (the load balancer's
# check: a records database outage must not take every server out, search still works).
# /healthz: the full report (index, database, disk), 503 when anything fails (for monitoring).
def _health(checks: dict[str, str], *, required: tuple[str, ...], commit: object = None) -> Response:
    ok = all(checks[name] == "ok" for name in required)
    response = jsonify(ok=ok, commit=commit, **checks)
    response.status_code = 200 if ok else 503
    response.cache_control.no_store = True
    return response


def _index_check() -> tuple[str, dict[str, Any] | None]:
    settings = get_settings()
    try:
        get_snapshot()  # opens the live build as a search would
    except IndexMissingError as exc:
        return f"missing: {exc} Run `kb sync` or `kb build`", None
    return "ok", read_manifest(settings.index_dir)


def _database_check() -> str:
    try:
        with get_database().connect() as conn:
            conn.execute(sql("SELECT 1"))
    except (DatabaseUnavailableError, OSError) as exc:  # OSError: SQLite's folder cannot be made
        return f"unreachable: {exc}"
    return "ok"


def _disk_folders() -> list[Path]:
    settings = get_settings()
    folders = [settings.index_dir]
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        folders.append(Path(url.database).parent)
    return folders


def _disk_check() -> str:
    """Each folder kb writes to takes a small write (and fsync) and has KB_MIN_FREE_MB free."""
    minimum = get_settings().min_free_mb * 1024 * 1024
    for folder in _disk_folders():
        while not folder.is_dir() and folder != folder.parent:  # not made yet: the disk it will be made on
            folder = folder.parent
        try:
            free = shutil.disk_usage(folder).free
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".healthz-", suffix=".tmp")
            try:
                os.write(fd, b"kb health probe\n")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            return f"not writable: {folder}: {exc.strerror or exc}"
        if free < minimum:
            return f"full: {free // (1024 * 1024)} MB free in {folder} (KB_MIN_FREE_MB={minimum // (1024 * 1024)})"
    return "ok"


@bp.get("/livez")
def livez() -> Response:
    """200 whenever the process answers (restart it when this fails)."""
    return _health({"process": "ok"}, required=("process",))


@bp.get("/readyz")
def readyz() -> Response:
    """200 when the index serves searches, even with the records database down (its state is in the JSON)."""
    index, manifest = _index_check()
    return _health({"index": index, "database": _database_check()}, required=("index",),
                   commit=(manifest or {}).get("git_commit"))


@bp.get("/healthz")
def healthz() -> Response:
    """The full report: 200 when the index serves, the database answers and the disk takes writes; else 503."""
    index, manifest = _index_check()
    checks = {"index": index, "database": _database_check(), "disk": _disk_check()}
    return _health(checks, required=tuple(checks), commit=(manifest or {}).get("git_commit"))


def init_app(app: Flask) -> None:
    """Register the webhook, status and health routes, and their part of /api/openapi.json."""
    app.register_blueprint(bp)
    openapi.register(app, OPENAPI_PATHS)
