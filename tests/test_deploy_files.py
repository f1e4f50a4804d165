"""The files in deploy/ stay in step with kb: commands and options exist, the problem matcher
reads `kb check` output, the gunicorn settings load."""

from __future__ import annotations

import json
import re
import runpy
import shlex

import pytest
from click.testing import CliRunner

from kb.errors import error, warning
from kbcli.main import cli
from tests.conftest import REPO

DEPLOY = REPO / "deploy"


def test_problem_matcher_reads_every_kb_check_line() -> None:
    matcher = json.loads((DEPLOY / "ci" / "kb-problem-matcher.json").read_text(encoding="utf-8"))
    pattern = matcher["problemMatcher"][0]["pattern"][0]
    for problem in (error("en/vpn 809.md", "title: missing", 4, 2), warning("_kb/tags.yaml", "unused tag", 7)):
        match = re.match(pattern["regexp"], str(problem))
        assert match is not None, str(problem)
        assert (match[pattern["file"]], int(match[pattern["line"]])) == (problem.path, problem.line)
        assert match[pattern["severity"]] == problem.severity.value


@pytest.mark.parametrize("snippet", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_snippets_run_kb_check_on_the_repository(snippet: str) -> None:
    assert "kb check --articles ." in (DEPLOY / "ci" / snippet).read_text(encoding="utf-8")


def test_systemd_units_run_commands_kb_has() -> None:
    for unit in sorted((DEPLOY / "systemd").glob("kb-sync*.service")):
        line = next(x for x in unit.read_text(encoding="utf-8").splitlines() if x.startswith("ExecStart="))
        args = shlex.split(line.removeprefix("ExecStart="))[1:]
        result = CliRunner().invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, (unit.name, result.output)


def test_gunicorn_settings_load_and_size_workers_by_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setenv("KB_WORKER_MB", "100000000")  # more than any machine: the floor of 2 applies
    settings = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert settings["workers"] == 2 and settings["worker_class"] == "gthread" and settings["preload_app"] is True
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["workers"] == 3
