"""Running kb as a service: /metrics (also under gunicorn with two workers), the textfile of
`kb sync --watch`, request ids and log formats, and secrets from *_FILE variables."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from kb.config import Settings, load_settings
from kb.errors import ConfigError
from kb.logs import JsonFormatter, RequestIdFilter, configure, dict_config
from search.build import build_index
from tests.conftest import REPO
from tests.test_deploy_cluster import free_port, node_env
from tests.test_web_fixtures import web_settings, write_knowledge_base

pytest_plugins = ("tests.test_web_fixtures", "tests.test_sync_fixtures")


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        metric, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', metric))
        bare = metric.split("{", 1)[0]
        if bare == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


def scrape(client: FlaskClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_metrics_count_searches_zero_results_and_refusals(client: FlaskClient) -> None:
    before = scrape(client)
    assert client.get("/api/search?q=vpn").status_code == 200
    assert client.get("/search?q=vpn+error").status_code == 200
    assert client.get("/api/search?q=zzzqqqxxyy").status_code == 200
    assert client.get("/api/search?q=vpn&page=1000&limit=100").status_code == 400  # beyond the paging limit
    after = scrape(client)
    api = {"endpoint": "api"}
    assert sample(after, "kb_search_duration_seconds_count", **api) - sample(
        before, "kb_search_duration_seconds_count", **api) == 3
    assert sample(after, "kb_search_duration_seconds_count", endpoint="search") > sample(
        before, "kb_search_duration_seconds_count", endpoint="search")
    assert sample(after, "kb_search_zero_results_total", **api) - sample(before, "kb_search_zero_results_total",
                                                                        **api) == 1
    assert sample(after, "kb_search_refused_total", endpoint="api", reason="limit") - sample(
        before, "kb_search_refused_total", endpoint="api", reason="limit") == 1
    assert sample(after, "kb_build_live") == 1
    assert sample(after, "kb_build_articles") >= 5
    assert sample(after, "kb_build_bytes") > 10_000
    assert 0 <= sample(after, "kb_build_age_seconds") < 3600
    assert sample(after, "kb_http_requests_total", method="GET", endpoint="api.search", status="400") - sample(
        before, "kb_http_requests_total", method="GET", endpoint="api.search", status="400") == 1
    assert sample(after, "kb_http_request_duration_seconds_count", endpoint="search.results") > sample(
        before, "kb_http_request_duration_seconds_count", endpoint="search.results")


def test_every_response_carries_a_request_id(client: FlaskClient) -> None:
    sent = client.get("/api/search?q=vpn", headers={"X-Request-ID": "ticket-42.abc"})
    assert sent.headers["X-Request-ID"] == "ticket-42.abc"
    fresh = client.get("/api/search?q=vpn", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-ID"])
    assert client.get("/nowhere").headers["X-Request-ID"]


def test_log_lines_carry_time_level_logger_and_request_id_in_text_and_json(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KB_LOG_FORMAT", "json")
    configure()
    try:
        with client.application.test_request_context("/x", headers={"X-Request-ID": "req-1"}):
            client.application.preprocess_request()
            logging.getLogger("web.probe").info("searched %s", "vpn")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        entry = json.loads(line)
        assert entry["level"] == "INFO" and entry["logger"] == "web.probe" and entry["message"] == "searched vpn"
        assert entry["request_id"] == "req-1" and entry["time"].endswith("+00:00")
        monkeypatch.setenv("KB_LOG_FORMAT", "text")
        configure()
        with client.application.test_request_context("/x", headers={"X-Request-ID": "req-2"}):
            client.application.preprocess_request()
            logging.getLogger("web.probe").warning("slow")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* WARNING web\.probe \[req-2\] slow$", line), line
    finally:
        logging.getLogger().handlers.clear()


def test_json_formatter_keeps_exceptions() -> None:
    record = logging.LogRecord("kb", logging.ERROR, __file__, 1, "boom %d", (1,), None)
    try:
        raise ValueError("inner")
    except ValueError:
        record.exc_info = sys.exc_info()
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "boom 1" and "ValueError: inner" in entry["exception"]


def test_gunicorn_config_keeps_info_for_app_loggers() -> None:
    config = dict_config(environ={})
    assert config["root"]["level"] == "INFO"
    assert config["loggers"]["gunicorn.access"]["handlers"] == ["stderr"]


def test_secret_settings_can_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n", encoding="utf-8")
    settings = load_settings(environ={"KB_SECRET_KEY_FILE": str(secret)})
    assert settings.secret_key == "from-a-file"
    assert load_settings(environ={"KB_SECRET_KEY_FILE": str(secret), "KB_SECRET_KEY": "plain"}).secret_key == "plain"
    with pytest.raises(ConfigError, match="KB_SECRET_KEY_FILE"):
        load_settings(environ={"KB_SECRET_KEY_FILE": str(tmp_path / "missing")})


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode(), dict(response.headers)


def test_gunicorn_workers_sum_their_metrics_and_log_with_request_ids(tmp_path: Path) -> None:
    articles = write_knowledge_base(tmp_path / "articles")
    settings = web_settings(articles, tmp_path / "index")
    assert not build_index(settings).errors
    port = free_port()
    env = {**os.environ, "KB_ARTICLES_DIR": str(articles), "KB_INDEX_DIR": str(settings.index_dir),
           "KB_DATABASE_URL": settings.database_url, "KB_SECRET_KEY": "operations-test-secret-key",
           "KB_LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "KB_WARM_TERMS": "0"}
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_999999.db").write_bytes(b"stale")  # a previous run's: must be cleared
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", str(REPO / "deploy" /
                                    "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                                    "web.app:create_app()"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(base + "/metrics")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(log.read_text(errors="replace"))
                time.sleep(0.2)
        # Fresh connections each time: the two workers share the searches between them.
        for n in range(12):
            status, _, headers = _get(base + f"/api/search?q=vpn{'' if n % 2 else '+error'}",
                                      {"X-Request-ID": f"probe-{n}"})
            assert status == 200 and headers["X-Request-ID"] == f"probe-{n}"
        _get(base + "/api/search?q=qqqzzzxxx")
        _, text, _ = _get(base + "/metrics")
        assert sample(text, "kb_search_duration_seconds_count", endpoint="api") == 13
        assert sample(text, "kb_search_zero_results_total", endpoint="api") == 1
        assert sample(text, "kb_build_articles") >= 5
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry["logger"] == "gunicorn.access"]
    assert any("request_id=probe-3" in entry["message"] and entry["request_id"] == "probe-3" for entry in access), \
        access[:3]
    assert any(entry["logger"] == "gunicorn.error" and entry["level"] == "INFO" for entry in lines)
    assert all(set(entry) >= {"time", "level", "logger", "message", "request_id"} for entry in lines)


def test_sync_watch_writes_the_same_metrics_for_node_exporter(node: Settings, tmp_path: Path) -> None:
    prom = tmp_path / "textfile" / "kb.prom"
    prom.parent.mkdir()
    env = {**node_env(dataclasses.replace(node, database_url=f"sqlite:///{tmp_path / 'records.db'}")),
           "KB_METRICS_TEXTFILE": str(prom)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "watch.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "kbcli.main", "sync", "--watch", "--interval", "0.2"],
                                   cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not prom.exists() or 'kb_sync_runs_total{outcome="synced"}' not in prom.read_text():
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(log.read_text(errors="replace"))
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    text = prom.read_text()
    assert sample(text, "kb_sync_runs_total", outcome="synced") == 1
    assert sample(text, "kb_sync_last_outcome", outcome="synced") == 1
    assert sample(text, "kb_sync_last_outcome", outcome="failed") == 0
    assert sample(text, "kb_build_articles") == 1 and sample(text, "kb_build_bytes") > 0
    assert sample(text, "kb_sync_last_timestamp_seconds", outcome="synced") > time.time() - 600
    assert not list(prom.parent.glob("*.tmp*")), "the textfile is written through a temporary file and a rename"
    # The watcher logs through the same configuration: time, level, logger.
    assert re.search(r"^\d{4}-\d\d-\d\dT\S+ INFO kbcli\.sync_commands \[-\] synced", log.read_text(), re.M)
