"""Fault injection, operations: killed builds, failed cache writes, placeholder secrets, health under a
database outage or a full disk, and gunicorn (with deploy/gunicorn.conf.py) in front of long queries."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.config import Settings
from kbcli.main import cli
from search.build import BUILDS, LOAD_CACHE_DIR, MANIFEST, current_build
from tests.conftest import REPO
from tests.test_search_fixtures import article_text
from tests.test_web_fixtures import web_settings, write_knowledge_base
from tests.test_web_serve import free_port, wait_until_up
from web import records
from web.app import create_app

pytest_plugins = ("tests.test_web_fixtures",)

GUNICORN = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def kb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kbcli.main", *args], cwd=REPO, capture_output=True, text=True,
                          env=ENV, timeout=300, check=False)


def unfinished(index: Path) -> list[Path]:
    builds = index / BUILDS
    return [d for d in builds.iterdir() if not (d / MANIFEST).is_file()] if builds.is_dir() else []


@pytest.fixture
def many(tmp_path: Path) -> Settings:
    articles = write_knowledge_base(tmp_path / "articles")
    for n in range(400):
        (articles / "en" / f"note-{n}.md").write_text(
            article_text(f"note-{n}", f"Printer note {n}", f"Printer body {n} " + "toner paper tray " * 60,
                         categories=("network",)), encoding="utf-8")
    return web_settings(articles, tmp_path / "index")


def test_a_killed_build_followed_by_an_unchanged_kb_build_leaves_no_partial_folder(many: Settings) -> None:
    index, articles = str(many.index_dir), str(many.articles_dir)
    assert kb("build", "--articles", articles, "--index", index).returncode == 0
    live = current_build(many.index_dir)
    for _ in range(3):  # three builds killed with kill -9 while writing their index
        proc = subprocess.Popen([sys.executable, "-m", "kbcli.main", "build", "--full", "--articles", articles,
                                 "--index", index], cwd=REPO, env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not unfinished(many.index_dir) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        if not unfinished(many.index_dir):  # it finished first (a fast machine): leave a real partial folder
            (many.index_dir / BUILDS / "20260101T000000000000-99999").mkdir()
        (many.index_dir / LOAD_CACHE_DIR / ".articles.pickle.killed.tmp").write_bytes(b"half a pickle")
    assert unfinished(many.index_dir)
    done = kb("build", "--articles", articles, "--index", index)  # nothing changed
    assert done.returncode == 0, done.stderr
    assert unfinished(many.index_dir) == []
    assert list((many.index_dir / LOAD_CACHE_DIR).glob(".*.tmp")) == []
    assert current_build(many.index_dir) == live  # the unchanged build kept the live one serving
    assert not [p for p in many.index_dir.iterdir() if p.name.startswith(".current.")]


def test_a_failed_cache_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    settings = web_settings(write_knowledge_base(tmp_path / "articles"), tmp_path / "index")
    cache = settings.index_dir / LOAD_CACHE_DIR
    (cache / "articles.pickle").mkdir(parents=True)  # the rename onto it fails, as on a full or broken disk
    result = CliRunner().invoke(cli, ["build", "--articles", str(settings.articles_dir), "--index",
                                      str(settings.index_dir)])
    assert result.exit_code == 0, result.output
    assert current_build(settings.index_dir) is not None
    assert list(cache.glob(".*.tmp")) == []


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("KB_SECRET_KEY", "CHANGE-ME", "placeholder"),
    ("KB_HOOK_SECRET", "CHANGE-ME", "placeholder"),
    ("KB_SECRET_KEY", "change-me", "placeholder"),
    ("KB_SECRET_KEY", "short-secret", "at least 16"),
    ("KB_HOOK_SECRET", "hook", "at least 16"),
])
def test_kb_serve_refuses_placeholder_and_short_secrets(built_kb: Settings, variable: str, value: str,
                                                         message: str) -> None:
    env = {**ENV, "KB_SECRET_KEY": "a-real-secret-of-32-characters!!", variable: value,
           "KB_DATABASE_URL": built_kb.database_url}
    done = subprocess.run([sys.executable, "-m", "kbcli.main", "serve", "--articles", str(built_kb.articles_dir),
                           "--index", str(built_kb.index_dir), "--port", str(free_port())], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode != 0
    assert variable in done.stderr and message in done.stderr and "Traceback" not in done.stderr


def test_shipped_kb_env_is_refused_until_its_secrets_are_set(built_kb: Settings) -> None:
    shipped = {}
    for line in (REPO / "deploy" / "kb.env").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            name, _, rest = line.partition("=")
            shipped[name.strip()] = rest.split("#", 1)[0].strip()
    assert shipped["KB_SECURE_COOKIES"] == "on"
    with pytest.raises(Exception, match="KB_SECRET_KEY"):
        create_app({"KB_SETTINGS": dataclasses.replace(built_kb, secret_key=shipped["KB_SECRET_KEY"])})
    with pytest.raises(Exception, match="KB_HOOK_SECRET"):
        create_app({"KB_SETTINGS": dataclasses.replace(built_kb, hook_secret=shipped["KB_HOOK_SECRET"])})


def test_readyz_stays_200_with_the_records_database_down_while_healthz_is_503(built_kb: Settings) -> None:
    app = create_app({"KB_SETTINGS": dataclasses.replace(built_kb, database_url="postgresql://nobody:x@127.0.0.1:1/n",
                                                         trusted_hosts="kb.example.com")})
    with app.test_client() as client:
        live = client.get("/livez", headers={"Host": "10.0.0.11:8080"})
        ready = client.get("/readyz", headers={"Host": "10.0.0.11:8080"})
        health = client.get("/healthz", headers={"Host": "10.0.0.11:8080"})
        search = client.get("/api/search?q=vpn", headers={"Host": "kb.example.com"})
    app.extensions[records.EXTENSION_KEY].dispose()
    assert live.status_code == 200 and live.json["ok"] is True  # type: ignore[index]
    assert ready.status_code == 200 and ready.json["index"] == "ok"  # type: ignore[index]
    assert ready.json["database"].startswith("unreachable")  # type: ignore[index]
    assert health.status_code == 503 and health.json["database"].startswith("unreachable")  # type: ignore[index]
    assert search.status_code == 200 and search.json["hits"]  # type: ignore[index]
    assert ready.headers["Cache-Control"] == "no-store"


def test_readyz_is_503_without_an_index(tmp_path: Path) -> None:
    settings = web_settings(write_knowledge_base(tmp_path / "articles"), tmp_path / "index")
    app = create_app({"KB_SETTINGS": settings})
    with app.test_client() as client:
        assert client.get("/livez").status_code == 200
        ready = client.get("/readyz")
    app.extensions[records.EXTENSION_KEY].dispose()
    assert ready.status_code == 503 and ready.json["index"].startswith("missing")  # type: ignore[index]


def test_healthz_fails_when_the_disk_is_full_or_refuses_writes(built_kb: Settings, tmp_path: Path) -> None:
    full = create_app({"KB_SETTINGS": dataclasses.replace(built_kb, min_free_mb=10**12)})  # more than any disk
    with full.test_client() as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
    full.extensions[records.EXTENSION_KEY].dispose()
    assert health.status_code == 503 and health.json["disk"].startswith("full")  # type: ignore[index]
    assert ready.status_code == 200  # searches still work
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the database folder should be", encoding="utf-8")
    broken = create_app({"KB_SETTINGS": dataclasses.replace(built_kb, database_url=f"sqlite:///{blocked}/r.db")})
    with broken.test_client() as client:
        health = client.get("/healthz")
    broken.extensions[records.EXTENSION_KEY].dispose()
    assert health.status_code == 503
    assert health.json["disk"].startswith("not writable") or health.json["database"] != "ok"  # type: ignore[index]


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read().decode("utf-8")


@pytest.fixture
def gunicorn(built_kb: Settings, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**ENV, "KB_ARTICLES_DIR": str(built_kb.articles_dir), "KB_INDEX_DIR": str(built_kb.index_dir),
           "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "KB_SECRET_KEY": "gunicorn-test-secret-0123",
           "KB_TRUSTED_HOSTS": "kb.example.com", "KB_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1",
           "KB_THREADS": "2", "KB_WARM_TERMS": "0"}
    proc = subprocess.Popen([str(GUNICORN), "-c", str(REPO / "deploy" / "gunicorn.conf.py"), "--chdir", str(REPO),
                             "--access-logfile", "/dev/null", "web.app:create_app()"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/livez", proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


@pytest.mark.skipif(GUNICORN is None, reason="gunicorn is not installed")
def test_gunicorn_passes_long_queries_to_kb_and_health_answers_by_address(gunicorn: str) -> None:
    host = {"Host": "kb.example.com"}
    trace = "Traceback (most recent call last):\n" + '  File "mail.py", line 12, in connect\n' * 160
    query = urllib.parse.quote(trace)
    assert len(query) > 8190  # over gunicorn's own largest limit
    status, headers, body = fetch(f"{gunicorn}/api/search?q={query}", host)
    assert status < 500 and headers["Content-Type"].startswith("application/json"), (status, body[:200])
    assert "Content-Security-Policy" in headers
    status, headers, body = fetch(f"{gunicorn}/api/search?q={'x' * 300_000}", host)
    assert status == 414 and json.loads(body)["message"] and "Content-Security-Policy" in headers
    for path in ("/livez", "/readyz", "/healthz"):  # a load balancer calls the server by its address
        status, _, body = fetch(gunicorn + path)
        assert status == 200, (path, body)
    assert fetch(gunicorn + "/", {"Host": "KB.Example.COM"})[0] == 200
    assert fetch(gunicorn + "/", {"Host": "evil.example"})[0] == 400
