"""The push webhook, the build status page and /healthz; a signed push reaching search through `kb sync --watch`."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kb.config import Settings
from kb.records.db import Database
from kb.records.hooks import latest_push
from search.results import SearchRequest
from search.service import SearchService
from search.sync import sync
from tests import test_records_fixtures as fx
from tests.conftest import REPO
from tests.test_sync_fixtures import Writer
from web import records
from web.app import create_app
from web.publishing import verify_push

pytest_plugins = ("tests.test_sync_fixtures",)

database_url = fx.database_url
SECRET = "hook-secret-for-tests"
PUSH = {"ref": "refs/heads/main", "after": "0" * 40, "repository": {"full_name": "it/articles"}}


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push", "Content-Type": "application/json"}


@pytest.fixture
def app(node: Settings, database_url: str) -> Iterator[Flask]:
    settings = dataclasses.replace(node, database_url=database_url, hook_secret=SECRET)
    app = create_app({"KB_SETTINGS": settings, "TESTING": True})
    yield app
    app.extensions[records.EXTENSION_KEY].dispose()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


def pushes(app: Flask) -> int | None:
    db: Database = app.extensions[records.EXTENSION_KEY]
    return latest_push(db)


# -- signatures ---------------------------------------------------------------------------------------
def test_github_signature_verifies_and_a_wrong_one_does_not() -> None:
    body = b'{"ref": "refs/heads/main"}'
    assert verify_push(SECRET, body, signed(body)) == "github"
    assert verify_push(SECRET, body + b" ", signed(body)) is None
    assert verify_push(SECRET, body, signed(body, "other")) is None
    assert verify_push("", body, signed(body, "")) is None  # no secret set: nothing verifies


def test_gitea_and_gitlab_credentials_verify() -> None:
    body = b"{}"
    gitea = {**signed(body), "X-Gitea-Event": "push"}
    assert verify_push(SECRET, body, gitea) == "gitea"
    bare = {"X-Gitea-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}
    assert verify_push(SECRET, body, bare) == "gitea"
    assert verify_push(SECRET, body, {"X-Gitlab-Token": SECRET}) == "gitlab"
    assert verify_push(SECRET, body, {"X-Gitlab-Token": SECRET + "x"}) is None


# -- the webhook --------------------------------------------------------------------------------------
def test_signed_push_is_recorded_for_the_watcher(client: FlaskClient, app: Flask) -> None:
    body = json.dumps(PUSH).encode()
    response = client.post("/api/hooks/git", data=body, headers=signed(body))
    assert response.status_code == 202 and response.json["queued"] is True  # type: ignore[index]
    assert pushes(app) == response.json["id"]  # type: ignore[index]


def test_unsigned_or_badly_signed_push_is_401_and_not_recorded(client: FlaskClient, app: Flask) -> None:
    body = json.dumps(PUSH).encode()
    assert client.post("/api/hooks/git", data=body, content_type="application/json").status_code == 401
    assert client.post("/api/hooks/git", data=body, headers=signed(body, "guess")).status_code == 401
    gitlab = {"X-Gitlab-Token": "guess", "X-Gitlab-Event": "Push Hook", "Content-Type": "application/json"}
    assert client.post("/api/hooks/git", data=body, headers=gitlab).status_code == 401
    assert pushes(app) is None


def test_gitlab_push_with_token_is_recorded(client: FlaskClient, app: Flask) -> None:
    headers = {"X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Push Hook"}
    response = client.post("/api/hooks/git", json={**PUSH, "checkout_sha": "1" * 40}, headers=headers)
    assert response.status_code == 202 and pushes(app) == 1


def test_webhook_is_401_when_no_secret_is_set(node: Settings, tmp_path: Path) -> None:
    app = create_app({"KB_SETTINGS": dataclasses.replace(node, database_url=f"sqlite:///{tmp_path / 'r.db'}"),
                      "TESTING": True})
    body = json.dumps(PUSH).encode()
    with app.test_client() as client:
        assert client.post("/api/hooks/git", data=body, headers=signed(body, "")).status_code == 401
    app.extensions[records.EXTENSION_KEY].dispose()


def test_ping_and_other_branches_are_answered_but_not_recorded(client: FlaskClient, app: Flask) -> None:
    body = b'{"zen": "Keep it simple."}'
    ping = client.post("/api/hooks/git", data=body, headers={**signed(body), "X-GitHub-Event": "ping"})
    assert ping.status_code == 200
    other = json.dumps({**PUSH, "ref": "refs/heads/draft"}).encode()
    response = client.post("/api/hooks/git", data=other, headers=signed(other))
    assert response.status_code == 202 and response.json["queued"] is False  # type: ignore[index]
    assert pushes(app) is None


def test_large_push_payload_is_accepted(client: FlaskClient, app: Flask) -> None:
    body = json.dumps({**PUSH, "commits": [{"message": "x" * 1000} for _ in range(500)]}).encode()
    assert len(body) > 64 * 1024
    assert client.post("/api/hooks/git", data=body, headers=signed(body)).status_code == 202


# -- status and health --------------------------------------------------------------------------------
def test_status_shows_live_commit_syncs_and_problems_with_authors(client: FlaskClient, node: Settings,
                                                                   writer: Writer) -> None:
    sync(node)
    writer.write("en/new-broken.md", "---\nid: new-broken\ntitle: Broken new\ntype: nonsense\n---\nBody\n")
    commit = writer.push("broken", author="Careless Writer")
    sync(node)
    data = client.get("/status.json").json
    assert data["live"]["commit"] == commit  # type: ignore[index]
    assert data["syncs"][0]["commit"] == commit  # type: ignore[index]
    problem = data["problems"][0]  # type: ignore[index]
    assert problem["text"].startswith("en/new-broken.md:4: ") and problem["author"] == "Careless Writer"
    assert problem["served"] == "left out"
    page = client.get("/status")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "en/new-broken.md:4: " in html and "Careless Writer" in html and commit[:10] in html


def test_healthz_names_the_live_commit(client: FlaskClient, node: Settings) -> None:
    missing = client.get("/healthz")
    assert missing.status_code == 503 and missing.json["index"].startswith("missing")  # type: ignore[index]
    result = sync(node)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"ok": True, "commit": result.commit, "index": "ok", "database": "ok", "disk": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(node: Settings, tmp_path: Path) -> None:
    sync(node)
    url = "postgresql://nobody:x@127.0.0.1:1/none"
    app = create_app({"KB_SETTINGS": dataclasses.replace(node, database_url=url), "TESTING": True})
    with app.test_client() as client:
        response = client.get("/healthz")
    assert response.status_code == 503 and response.json["database"].startswith("unreachable")  # type: ignore[index]
    assert response.json["index"] == "ok"  # type: ignore[index]
    app.extensions[records.EXTENSION_KEY].dispose()


# -- end to end ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_signed_push_is_searchable_within_seconds_and_broken_article_shows_on_status(
        client: FlaskClient, app: Flask, node: Settings, writer: Writer, origin: Path) -> None:
    sync(node)
    env = {**os.environ, "KB_ARTICLES_DIR": str(node.articles_dir), "KB_INDEX_DIR": str(node.index_dir),
           "KB_DATABASE_URL": app.config["KB_SETTINGS"].database_url, "KB_SYNC_REMOTE": str(origin),
           "KB_SYNC_BRANCH": "main"}
    watcher = subprocess.Popen([sys.executable, "-m", "kbcli.main", "sync", "--watch", "--interval", "0.2"],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        writer.article("scanner", "Scanner stripes", "Clean the glass.")
        writer.write("en/new-broken.md", "---\nid: new-broken\ntitle: Broken new\ntype: nonsense\n---\nBody\n")
        commit = writer.push("scanner and a broken one")
        body = json.dumps({**PUSH, "after": commit}).encode()
        pushed = time.monotonic()
        assert client.post("/api/hooks/git", data=body, headers=signed(body)).status_code == 202
        found: list[str] = []
        while time.monotonic() - pushed < 30 and not found:
            time.sleep(0.1)
            try:
                found = [h.id for h in SearchService(node.index_dir).search(SearchRequest("scanner")).hits]
            except Exception:  # the index is being swapped in; look again
                found = []
        seconds = time.monotonic() - pushed
        assert found == ["scanner"], watcher.stdout.read1().decode() if watcher.stdout else ""  # type: ignore[union-attr]
        assert seconds < 10
        status = client.get("/status.json").json
        assert status["live"]["commit"] == commit  # type: ignore[index]
        assert any(p["path"] == "en/new-broken.md" for p in status["problems"])  # type: ignore[index]
        assert client.get("/articles/vpn-error-809").status_code == 200  # the rest of the site serves
        print(f"push to searchable: {seconds:.2f}s")
    finally:
        watcher.send_signal(signal.SIGTERM)
        code = watcher.wait(timeout=30)
        if watcher.stdout:
            watcher.stdout.close()
    assert code == 0  # SIGTERM stops the watcher between syncs, cleanly
