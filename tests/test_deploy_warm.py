"""gunicorn with deploy/gunicorn.conf.py: the master opens and warms the index before it listens
and forks workers, and again before forking a replacement when a newer build was swapped in."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.bench_memory import children, private_mb
from search.build import build_index
from tests.conftest import REPO
from tests.test_web_fixtures import ARTICLES, article, web_settings, write_knowledge_base
from tests.test_web_serve import GUNICORN, env_for, fetch, free_port, wait_until_up

pytest_plugins = ("tests.test_web_fixtures",)

WARMED = "index build opened and warmed"


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "gunicorn.log"


def _wait_for(predicate: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


@pytest.mark.skipif(GUNICORN is None, reason="gunicorn is not installed")
def test_master_warms_before_forking_and_again_for_a_new_build(tmp_path: Path, log_file: Path) -> None:
    settings = web_settings(write_knowledge_base(tmp_path / "articles", ARTICLES), tmp_path / "index")
    build_index(settings)
    port = free_port()
    env = {**env_for(settings), "WEB_CONCURRENCY": "2", "KB_BIND": f"127.0.0.1:{port}"}
    with open(log_file, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "web.app:create_app()"],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/", proc)
        text = log_file.read_text(encoding="utf-8")
        assert text.count(WARMED) == 1 and text.index(WARMED) < text.index("Listening at") < text.index("Booting")
        status, body = fetch(base + "/api/search?q=vpn")
        assert status == 200 and '"vpn-error-809"' in body
        _wait_for(lambda: len(children(proc.pid)) == 2)
        assert all(private_mb(pid) > 0 for pid in children(proc.pid))

        # A new build, then a worker replaced (as max_requests does): the master warms the new build first.
        rel, source = article("en/brand-new.md", "Brand new text.\n", id="brand-new", title="A brand new article",
                              lang="en")
        (settings.articles_dir / rel).write_text(source, encoding="utf-8")
        build_index(settings)
        old = children(proc.pid)
        os.kill(old[0], signal.SIGTERM)
        _wait_for(lambda: len(set(children(proc.pid)) - set(old)) == 1)
        _wait_for(lambda: log_file.read_text(encoding="utf-8").count(WARMED) == 2)
        for _ in range(4):
            status, page = fetch(base + "/articles/brand-new")
            assert status == 200 and "A brand new article" in page
    finally:
        proc.terminate()
        proc.wait(timeout=30)
