"""Serving for real: `kb serve` (builds the index first) and gunicorn with several workers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.config import Settings
from search.build import build_index, current_build
from tests.conftest import REPO
from tests.test_web_fixtures import ARTICLES, article, web_settings, write_knowledge_base

pytest_plugins = ("tests.test_web_fixtures",)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode("utf-8")


def wait_until_up(url: str, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            fetch(url)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {seconds}s")


@pytest.fixture
def running() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def env_for(settings: Settings) -> dict[str, str]:
    return {**os.environ, "KB_ARTICLES_DIR": str(settings.articles_dir), "KB_INDEX_DIR": str(settings.index_dir),
            "KB_DATABASE_URL": settings.database_url, "KB_SECRET_KEY": "shared-secret-0123", "PYTHONPATH": str(REPO)}


def test_serve_flags_override_settings(built_kb: Settings) -> None:
    from kbcli.serve import serve_settings

    assert (serve_settings(built_kb, "0.0.0.0", 9000).host, serve_settings(built_kb, "0.0.0.0", 9000).port) == (
        "0.0.0.0", 9000)
    assert serve_settings(built_kb, None, None) == built_kb


def test_kb_serve_builds_the_index_first_and_serves(tmp_path: Path, running: list[subprocess.Popen[str]]) -> None:
    articles = write_knowledge_base(tmp_path / "articles")
    index = tmp_path / "index"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kbcli.main", "serve", "--articles", str(articles), "--index",
                             str(index), "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO),
                                 "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'records.db'}"})
    running.append(proc)
    wait_until_up(f"http://127.0.0.1:{port}/", proc, seconds=120)
    assert current_build(index) is not None
    status, page = fetch(f"http://127.0.0.1:{port}/articles/vpn-error-809")
    assert status == 200 and "VPN fails with error 809" in page


GUNICORN = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")


@pytest.mark.skipif(GUNICORN is None, reason="gunicorn is not installed")
def test_gunicorn_workers_serve_and_pick_up_a_swapped_index(tmp_path: Path,
                                                            running: list[subprocess.Popen[str]]) -> None:
    settings = web_settings(write_knowledge_base(tmp_path / "articles", ARTICLES), tmp_path / "index")
    build_index(settings)
    port = free_port()
    proc = subprocess.Popen([str(GUNICORN), "--workers", "3", "--bind", f"127.0.0.1:{port}", "--chdir", str(REPO),
                             "web.app:create_app()"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env_for(settings))
    running.append(proc)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/", proc)
    for _ in range(6):  # several requests, so several workers answer
        status, body = fetch(base + "/api/search?q=vpn")
        assert status == 200 and '"vpn-error-809"' in body
    assert fetch(base + "/articles/brand-new")[0] == 404

    rel, text = article("en/brand-new.md", "Brand new text.\n", id="brand-new", title="A brand new article",
                        lang="en")
    (settings.articles_dir / rel).write_text(text, encoding="utf-8")
    build_index(settings)
    time.sleep(1.0)
    for _ in range(6):
        status, page = fetch(base + "/articles/brand-new")
        assert status == 200 and "A brand new article" in page
