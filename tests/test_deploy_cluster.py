"""Several machines: two gunicorn app servers on loopback, each with its own checkout and index,
one PostgreSQL records database. Records written on one show on the other; after a push and a
sync on each, both serve the same new commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kb.config import Settings
from kb.records.db import Database
from search.sync import sync
from tests import test_records_fixtures as fx
from tests.conftest import REPO
from tests.test_sync_fixtures import Writer, node_settings

pytest_plugins = ("tests.test_sync_fixtures",)

TOKEN = "cluster-token"
HOOK_SECRET = "cluster-hook-secret-0123"
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One app server: its settings, port and gunicorn process."""

    settings: Settings
    port: int
    process: subprocess.Popen[bytes]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def post(self, path: str, data: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(self.url(path), data=json.dumps(data).encode(), method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def node_env(settings: Settings) -> dict[str, str]:
    """The environment of every kb process on one machine (what deploy/kb.env holds)."""
    return {**os.environ, "KB_ARTICLES_DIR": str(settings.articles_dir), "KB_INDEX_DIR": str(settings.index_dir),
            "KB_DATABASE_URL": settings.database_url, "KB_SECRET_KEY": "cluster-secret-0123456789",
            "KB_API_TOKEN_HASH": hashlib.sha256(TOKEN.encode()).hexdigest(), "KB_HOOK_SECRET": HOOK_SECRET,
            "KB_SYNC_REMOTE": settings.sync_remote, "KB_SYNC_BRANCH": settings.sync_branch}


def start(settings: Settings, log: Path) -> Server:
    port = free_port()
    env = node_env(settings)
    with open(log, "wb") as out:
        command = [sys.executable, "-m", "gunicorn", "--config", str(REPO / "deploy" / "gunicorn.conf.py"),
                   "--bind", f"127.0.0.1:{port}", "--workers", "2", "web.app:create_app()"]
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(settings, port, process)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited: {log.read_text(errors='replace')}")
        try:
            status, _ = server.get("/healthz")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    pytest.fail(f"gunicorn did not answer /healthz in {STARTUP_SECONDS}s: {log.read_text(errors='replace')}")


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """One PostgreSQL database for the whole cluster (skipped locally without one, failed in CI)."""
    yield from fx.make_database_url("postgresql", tmp_path)


@pytest.fixture
def cluster(origin: Path, writer: Writer, tmp_path: Path, postgres_url: str) -> Iterator[list[Server]]:
    """Two app servers, each synced from origin into its own folder, sharing the records database."""
    db = Database(postgres_url)
    db.upgrade()
    db.dispose()
    servers: list[Server] = []
    try:
        for name in ("a", "b"):
            settings = node_settings(origin, tmp_path / name, database_url=postgres_url)
            assert sync(settings).outcome == "synced"
            servers.append(start(settings, tmp_path / f"{name}.log"))
        yield servers
    finally:
        for server in servers:
            server.process.send_signal(signal.SIGTERM)
        for server in servers:
            server.process.wait(timeout=30)


def test_two_app_servers_share_records_and_agree_after_a_push_and_sync(cluster: list[Server],
                                                                        writer: Writer) -> None:
    a, b = cluster
    resolution = {"article": "vpn-error-809", "ticket_id": "INC-7", "category": "network/vpn", "user": "ann"}
    status, _ = a.post("/api/resolutions", resolution, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 201
    status, usage = b.get("/reports/articles/vpn-error-809?format=json")
    assert status == 200 and usage["tickets"] == 1 and usage["recent"][0]["ticket_id"] == "INC-7", usage

    writer.article("printer-jam", "Printer jam", "Open tray two.")
    commit = writer.push("new article")
    for server in (a, b):
        result = sync(server.settings)
        assert result.outcome == "synced" and result.commit == commit
    for server in (a, b):
        status, health = server.get("/healthz")
        assert status == 200 and health["commit"] == commit
        status, found = server.get("/api/search?q=printer")
        assert status == 200 and [h["id"] for h in found["hits"]] == ["printer-jam"]
        status, state = server.get("/status.json")
        assert state["live"]["commit"] == commit


def test_a_webhook_to_one_server_reaches_the_watcher_on_every_machine(cluster: list[Server], writer: Writer,
                                                                       tmp_path: Path) -> None:
    watchers = []
    for server in cluster:
        log = open(tmp_path / f"watch-{server.port}.log", "wb")  # noqa: SIM115 - closed below
        watchers.append((subprocess.Popen([sys.executable, "-m", "kbcli.main", "sync", "--watch", "--interval", "0.2"],
                                          cwd=REPO, env=node_env(server.settings), stdout=log,
                                          stderr=subprocess.STDOUT), log))
    try:
        writer.article("scanner", "Scanner stripes", "Clean the glass.")
        commit = writer.push("scanner")
        body = json.dumps({"ref": "refs/heads/main", "after": commit}).encode()
        signature = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(cluster[0].url("/api/hooks/git"), data=body, method="POST", headers={
            "Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": signature})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
        sent = time.monotonic()
        commits: list[str] = []
        while time.monotonic() - sent < 60:
            commits = [server.get("/healthz")[1]["commit"] for server in cluster]
            if commits == [commit, commit]:
                break
            time.sleep(0.2)
        assert commits == [commit, commit]
        print(f"webhook to both machines serving the push: {time.monotonic() - sent:.2f}s")
        for server in cluster:
            status, found = server.get("/api/search?q=scanner")
            assert status == 200 and [h["id"] for h in found["hits"]] == ["scanner"]
    finally:
        for process, _log in watchers:
            process.send_signal(signal.SIGTERM)
        for process, log in watchers:
            process.wait(timeout=30)
            log.close()
