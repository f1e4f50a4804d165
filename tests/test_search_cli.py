"""`kb build`, `kb search` and build.py, through Click's runner and a real index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kbcli.build_search import build, search
from tests.conftest import BUNDLED_ARTICLES, REPO


@pytest.fixture
def index_dir(articles_dir: Path, tmp_path: Path) -> Path:
    index = tmp_path / "index"
    result = CliRunner().invoke(build, ["--articles", str(articles_dir), "--index", str(index)])
    assert result.exit_code == 0, result.output
    return index


def test_build_reports_a_summary(articles_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(build, ["--articles", str(articles_dir), "--index", str(tmp_path / "i"), "--full"])
    assert result.exit_code == 0
    assert "full build: 1 articles" in result.output


def test_build_without_articles_folder_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(build, ["--articles", str(tmp_path / "none"), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_search_json_output(index_dir: Path) -> None:
    result = CliRunner().invoke(search, ["--index", str(index_dir), "--json", "error 809"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total"] == 1 and data["hits"][0]["id"] == "vpn-error-809"
    assert data["hits"][0]["path"] == "en/vpn-error-809.md"


def test_search_filters_and_text_output(index_dir: Path) -> None:
    result = CliRunner().invoke(search, ["--index", str(index_dir), "--lang", "zh", "vpn"])
    assert result.exit_code == 0 and result.output.startswith("0 result(s)")
    result = CliRunner().invoke(search, ["--index", str(index_dir), "--category", "network", "vpn"])
    assert "vpn-error-809" in result.output


def test_search_batch_writes_one_json_line_per_query(index_dir: Path) -> None:
    result = CliRunner().invoke(search, ["--index", str(index_dir), "--batch"], input="vpn\n*\nprinter\n")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["query"] for line in lines] == ["vpn", "*", "printer"]
    assert lines[0]["total"] == 1 and lines[2]["total"] == 0
    assert lines[1]["total"] == 0 and "no searchable words" in lines[1]["notice"]  # answered, never an error line


def test_bad_query_and_missing_index_exit_with_messages(index_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(search, ["--index", str(index_dir), "*"])
    assert result.exit_code == 0 and "no searchable words" in result.output
    result = CliRunner().invoke(search, ["--index", str(index_dir), "--page", "200", "vpn"])
    assert result.exit_code == 2 and "cannot be paged" in result.output
    result = CliRunner().invoke(search, ["--index", str(tmp_path / "none"), "vpn"])
    assert result.exit_code == 3 and "kb build" in result.output


def test_build_py_runs_the_same_command(articles_dir: Path, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(REPO / "build.py"), "--articles", str(articles_dir),
                          "--index", str(tmp_path / "i")], capture_output=True, text=True, cwd=REPO, check=False)
    assert out.returncode == 0, out.stderr
    assert "full build" in out.stderr


def test_bundled_articles_build_and_answer(tmp_path: Path) -> None:
    index = tmp_path / "index"
    result = CliRunner().invoke(build, ["--articles", str(BUNDLED_ARTICLES), "--index", str(index)])
    assert result.exit_code == 0, result.output
    for query in ("vpn", "打印机", "outlook password", "password"):
        out = CliRunner().invoke(search, ["--index", str(index), "--json", query])
        assert out.exit_code == 0, out.output
        assert json.loads(out.output)["total"] > 0, query


def test_search_text_output_is_plain_terminal_text_with_site_urls(articles_dir: Path, write_article: Any,
                                                                  tmp_path: Path) -> None:
    write_article("en/quotes.md", """\
        ---
        id: quotes-and-ampersands
        title: "Outlook says \\"Need Password\\" & <stops>"
        summary: "Outlook keeps prompting."
        type: howto
        state: validated
        ---
        Outlook shows "Need Password" & then <nothing> for R&D users.
        """)
    index = tmp_path / "index"
    assert CliRunner().invoke(build, ["--articles", str(articles_dir), "--index", str(index)]).exit_code == 0
    result = CliRunner().invoke(search, ["--index", str(index), "need password"],
                                env={"KB_BASE_URL": "https://kb.example.com/"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert 'Outlook shows "Need Password" & then for R&D users.' in out
    assert "&quot;" not in out and "&amp;" not in out and "&lt;" not in out and "<mark>" not in out
    assert "\x1b[" not in out  # not a terminal: no colour codes
    assert "     https://kb.example.com/articles/quotes-and-ampersands\n" in out
    on_terminal = CliRunner().invoke(search, ["--index", str(index), "need password"], color=True)
    assert "\x1b[1mNeed\x1b[0m" in on_terminal.output and "&quot;" not in on_terminal.output
    assert "https://" not in on_terminal.output  # no KB_BASE_URL: no URL line


def test_search_says_what_it_corrected_and_verbatim_searches_as_typed(index_dir: Path) -> None:
    corrected = json.loads(CliRunner().invoke(search, ["--index", str(index_dir), "--json", "conneting"]).output)
    assert corrected["showing_results_for"] == "connecting" and corrected["search_instead_for"] == "conneting"
    assert corrected["hits"][0]["id"] == "vpn-error-809"
    args = ["--index", str(index_dir), "--json", "--verbatim", "conneting"]
    typed = json.loads(CliRunner().invoke(search, args).output)
    assert typed["showing_results_for"] is None and typed["total"] == 0
    text = CliRunner().invoke(search, ["--index", str(index_dir), "conneting"]).output
    assert "showing results for: connecting" in text
