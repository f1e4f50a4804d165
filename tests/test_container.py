"""The container image: built from the Dockerfile on a Debian base made here (no registry needed),
run as a non-root user with the index on a volume: `kb sync` clones and builds, gunicorn serves.

Skipped, saying why, where no container engine can run; scripts/test installs podman, runc and
mmdebstrap, so CI runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_deploy_cluster import free_port
from tests.test_sync_fixtures import Writer

pytest_plugins = ("tests.test_sync_fixtures",)

BASE = os.environ.get("KB_TEST_CONTAINER_BASE", "localhost/kb-base:bookworm")
IMAGE = "localhost/kb:test"
# Sandboxed machines forbid raising rlimits and mixing cgroup versions: lower limits and runc start there.
RUN_FLAGS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
BUILD_SECONDS = 900


def _engine() -> list[str]:
    """The podman command that can start a container here, or skip with the reason."""
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip("no container engine: podman is not installed (scripts/test installs it on Debian)")
    for runtime in ("runc", "crun"):
        if not shutil.which(runtime):
            continue
        command = [podman, "--runtime", runtime]
        probe = subprocess.run([*command, "run", "--rm", *RUN_FLAGS, "--network", "none", _base(command), "true"],
                               capture_output=True, text=True, timeout=300)
        if probe.returncode == 0:
            return command
        reason = probe.stderr.strip().splitlines()[-1:] or ["?"]
    pytest.skip(f"no container engine can run containers on this machine: {reason[0]}")


def _base(command: list[str]) -> str:
    """The base image, built from Debian's packages with scripts/container-base when missing."""
    present = subprocess.run([*command, "image", "exists", BASE], capture_output=True, timeout=60)
    if present.returncode != 0:
        if shutil.which("mmdebstrap") is None:
            pytest.skip(f"no base image {BASE} and no mmdebstrap to build one")
        subprocess.run([str(REPO / "scripts" / "container-base"), BASE], check=True, timeout=BUILD_SECONDS,
                       env={**os.environ, "KB_CONTAINER_ENGINE": command[0]}, capture_output=True)
    return BASE


@pytest.fixture(scope="module")
def engine() -> list[str]:
    return _engine()


@pytest.fixture(scope="module")
def image(engine: list[str]) -> str:
    build = subprocess.run([*engine, "build", *RUN_FLAGS, "--build-arg", f"BASE={BASE}", "-t", IMAGE, str(REPO)],
                           capture_output=True, text=True, timeout=BUILD_SECONDS)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return IMAGE


@pytest.fixture
def volumes(engine: list[str]) -> Iterator[dict[str, str]]:
    """Fresh named volumes for the articles checkout and the index, shared by the sync and web containers."""
    names = {where: f"kb-test-{where}-{uuid.uuid4().hex[:8]}" for where in ("articles", "index")}
    for name in names.values():
        subprocess.run([*engine, "volume", "create", name], check=True, capture_output=True, timeout=60)
    yield names
    for name in names.values():
        subprocess.run([*engine, "volume", "rm", "-f", name], capture_output=True, timeout=60)


def test_the_image_runs_as_a_non_root_user(engine: list[str], image: str) -> None:
    result = subprocess.run([*engine, "run", "--rm", *RUN_FLAGS, "--network", "none", image, "id", "-u"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() != "0"
    config = json.loads(subprocess.run([*engine, "image", "inspect", image], capture_output=True, text=True,
                                       check=True, timeout=60).stdout)[0]["Config"]
    assert {"/srv/kb/index", "/srv/kb/articles", "/srv/kb/data"} <= set(config["Volumes"])
    chinese = subprocess.run([*engine, "run", "--rm", *RUN_FLAGS, "--network", "none", "-e", "KB_LANG=zh", image,
                              "kb", "check", "--articles", "/srv/nowhere"], capture_output=True, text=True, timeout=120)
    assert chinese.returncode == 2 and "文章文件夹 /srv/nowhere 不存在" in chinese.stderr, chinese.stderr


def test_sync_then_serve_from_the_container(engine: list[str], image: str, volumes: dict[str, str], origin: Path,
                                            writer: Writer, tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("container-test-secret-key\n", encoding="utf-8")
    secret.chmod(0o644)
    # The container's user owns its copy of the repository, as a git host's checkout would be owned.
    served = tmp_path / "served-origin.git"
    shutil.copytree(origin, served)
    uid = int(subprocess.run([*engine, "run", "--rm", *RUN_FLAGS, "--network", "none", image, "id", "-u"],
                             capture_output=True, text=True, check=True, timeout=120).stdout)
    for folder, _dirs, files in os.walk(served):
        os.chown(folder, uid, uid)
        for name in files:
            os.chown(os.path.join(folder, name), uid, uid)
    port = free_port()
    common = [*engine, "run", "--rm", *RUN_FLAGS, "--network", "host",
              "-v", f"{served}:/srv/origin:ro", "-v", f"{volumes['index']}:/srv/kb/index",
              "-v", f"{volumes['articles']}:/srv/kb/articles",
              "-v", f"{secret}:/run/secrets/kb_secret_key:ro",
              "-e", "KB_SYNC_REMOTE=/srv/origin", "-e", "KB_SECRET_KEY_FILE=/run/secrets/kb_secret_key",
              "-e", f"KB_BIND=127.0.0.1:{port}", "-e", "WEB_CONCURRENCY=2", "-e", "KB_LOG_FORMAT=json"]
    synced = subprocess.run([*common, image, "kb", "sync", "--json"], capture_output=True, text=True, timeout=300)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert json.loads(synced.stdout)["outcome"] == "synced"
    name = f"kb-web-{uuid.uuid4().hex[:8]}"
    run = len(engine) + 1  # after `podman ... run`
    web = subprocess.Popen([*common[:run], "--name", name, *common[run:], image, "web"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=809", timeout=5) as response:
                    found = json.loads(response.read())
                break
            except OSError:
                if web.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the web container did not answer: {web.communicate(timeout=10)[0][-3000:]}")
                time.sleep(0.5)
        assert [hit["id"] for hit in found["hits"]] == ["vpn-error-809"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert "kb_search_duration_seconds_count" in response.read().decode()
    finally:
        subprocess.run([*engine, "stop", "-t", "10", name], capture_output=True, timeout=60)
        output = web.communicate(timeout=60)[0]
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(entry["logger"] == "gunicorn.access" and "/api/search" in entry["message"] for entry in lines), \
        output[-2000:]


def test_compose_runs_web_sync_postgres_and_optional_sso_with_secrets_from_files() -> None:
    import yaml

    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"web", "sync", "db", "oauth2-proxy"}
    assert services["oauth2-proxy"]["profiles"] == ["sso"]
    assert services["web"]["command"] == ["web"] and services["sync"]["command"][0] == "sync-watch"
    for name in ("web", "sync"):
        env = services[name]["environment"]
        secrets = {key for key in env if key.endswith("_FILE")}
        assert {"KB_SECRET_KEY_FILE", "KB_DATABASE_URL_FILE"} <= secrets
        assert not any("SECRET" in key and not key.endswith("_FILE") for key in env), env
        assert any(volume.endswith(":/srv/kb/index") for volume in services[name]["volumes"])
    assert services["db"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    skipped = next(arg for arg in services["oauth2-proxy"]["command"] if arg.startswith("--skip-auth-route="))
    for path in ("/api/resolutions", "/api/tickets/closed", "/api/hooks/git", "/chat/slack", "/healthz"):
        assert re.match(skipped.split("=", 1)[1], path), path
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG BASE=\S*python:3\.\d+-slim-bookworm$", dockerfile, re.M)
    assert re.search(r"^USER kb$", dockerfile, re.M)
    entrypoint = (REPO / "deploy" / "container" / "entrypoint.sh").read_text(encoding="utf-8")
    assert "kb sync --watch" in entrypoint and "gunicorn --config /etc/kb/gunicorn.conf.py" in entrypoint


def test_the_installed_package_carries_the_catalogue(tmp_path: Path) -> None:
    """The image installs kb as a wheel: the .po files must be in it, or the container speaks only English."""
    source = tmp_path / "src"  # a copy: setuptools builds in the source tree, which must stay clean
    for name in ("kb", "search", "web", "kbcli"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    import zipfile

    (wheel,) = tmp_path.glob("kb-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "kb/locale/zh/LC_MESSAGES/messages.po" in names
    assert any(name.startswith("web/templates/") for name in names)
