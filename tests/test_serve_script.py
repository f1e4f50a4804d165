"""scripts/serve installs with pip only when there is no install yet or pyproject.toml changed."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from tests.conftest import REPO

# Stand-ins for the slow tools, each logging how it was called; the script itself is the real one.
LOGGING_TOOL = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
"""
FAKE_PYTHON = """#!/bin/sh
echo "python3 $*" >> "{log}"
if [ "$1" = "--version" ]; then echo "Python 3.11.0"; exit 0; fi
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin"
  for tool in pip kb; do printf '%s' '{tool}' > "$3/bin/$tool"; chmod +x "$3/bin/$tool"; done
fi
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_serve(project: Path, bin_dir: Path) -> list[str]:
    log = project / "calls.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run([str(project / "scripts" / "serve"), "--port", "9999"], cwd=project, env=env, check=True,
                   capture_output=True, text=True, timeout=60)
    return log.read_text(encoding="utf-8").splitlines()


def test_serve_installs_once_and_again_only_when_pyproject_changes(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "serve", project / "scripts" / "serve")
    shutil.copy(REPO / "pyproject.toml", project / "pyproject.toml")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = project / "calls.log"
    _executable(bin_dir / "python3", FAKE_PYTHON.format(log=log, tool=LOGGING_TOOL.format(log=log)))

    first = run_serve(project, bin_dir)
    assert "python3 -m venv .venv" in first
    assert "pip install -q -e ." in first
    assert first[-1] == "kb serve --port 9999"

    second = run_serve(project, bin_dir)
    assert not any("venv" in call or call.startswith("pip") for call in second), second
    assert second[-1] == "kb serve --port 9999"

    with open(project / "pyproject.toml", "a", encoding="utf-8") as handle:
        handle.write("\n# a new dependency\n")
    third = run_serve(project, bin_dir)
    assert "pip install -q -e ." in third
