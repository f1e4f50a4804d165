"""Translations and the terminal: one gettext catalogue for the site and the CLI, whole sentences
and plurals, CLDR dates, `kb check` in Chinese under a Chinese locale, coloured errors on a
terminal only, full one-line help, and shell completion as the README documents it."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from kb.i18n import format_date, language_from_environment
from kbcli.i18n_commands import instructions, untranslated
from kbcli.main import cli
from tests.conftest import REPO

pytest_plugins = ("tests.test_web_fixtures",)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_every_message_of_the_templates_and_the_code_has_a_chinese_translation() -> None:
    missing = list(untranslated())
    assert not missing, instructions(missing)


def run_kb(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("KB_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    return subprocess.run([sys.executable, "-m", "kbcli.main", *args], cwd=REPO, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def broken_articles(tmp_path: Path) -> Path:
    root = tmp_path / "articles"
    (root / "en").mkdir(parents=True)
    (root / "_kb").mkdir()
    for name in ("categories.yaml", "tags.yaml", "products.yaml"):
        (root / "_kb" / name).write_text((REPO / "articles" / "_kb" / name).read_text(encoding="utf-8"),
                                         encoding="utf-8")
    (root / "en" / "bad.md").write_text("---\nid: bad-one\ncategories: [netwrok]\n---\nSome text.\n",
                                        encoding="utf-8")
    return root


@pytest.mark.parametrize("env", [{"LANG": "zh_CN.UTF-8"}, {"KB_LANG": "zh"}, {"LC_ALL": "zh_TW.UTF-8"}])
def test_kb_check_speaks_chinese_under_a_chinese_locale(broken_articles: Path, env: dict[str, str]) -> None:
    result = run_kb("check", "--articles", str(broken_articles), **env)
    assert result.returncode == 1
    assert "en/bad.md:2:1: error: 前言中缺少必填的 `title:`" in result.stdout
    assert "en/bad.md:3:1: error: 未知的分类 'netwrok'；您是不是要写 'network'？" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "0 篇有效文章；2 个错误，2 个警告"


def test_kb_check_speaks_english_otherwise_and_kb_lang_wins(broken_articles: Path) -> None:
    english = run_kb("check", "--articles", str(broken_articles), LANG="de_DE.UTF-8")
    assert "missing required `title:` in the front-matter" in english.stdout
    assert english.stderr.strip().splitlines()[-1] == "0 valid articles; 2 errors, 2 warnings"
    chosen = run_kb("check", "--articles", str(broken_articles), LANG="zh_CN.UTF-8", KB_LANG="en")
    assert "missing required `title:`" in chosen.stdout
    missing = run_kb("check", "--articles", str(broken_articles / "nowhere"), KB_LANG="zh")
    assert missing.returncode == 2 and missing.stderr.startswith("kb: 错误：文章文件夹")


def test_plurals_follow_the_count(broken_articles: Path) -> None:
    (broken_articles / "en" / "bad.md").write_text(
        "---\nid: fine\ntitle: Fine\nsummary: ok\ntype: howto\n---\nText.\n", encoding="utf-8")
    result = run_kb("check", "--articles", str(broken_articles))
    assert result.stderr.strip().splitlines()[-1] == "1 valid article; 0 errors, 0 warnings"


def test_language_from_the_environment() -> None:
    assert language_from_environment({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert language_from_environment({"LANGUAGE": "zh_TW:en"}) == "zh"
    assert language_from_environment({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert language_from_environment({"KB_LANG": "zh", "LC_ALL": "en_US.UTF-8"}) == "zh"
    assert language_from_environment({}) == "en"


def test_dates_are_written_the_cldr_way() -> None:
    assert format_date(dt.date(2026, 11, 24), "zh") == "2026年11月24日"
    assert format_date(dt.datetime(2026, 11, 24, 9, 30), "en") == "24 Nov 2026"


def test_pages_use_whole_translated_sentences(client: FlaskClient) -> None:
    page = client.get("/search?q=vpn", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert re.search(r'class="result-count"[^>]*>\d+ 条结果 · 搜索用时 \d+ 毫秒', page)
    for query in ("vpn+809", "vpn+809&lang=en"):
        english = client.get(f"/search?q={query}", headers={"Accept-Language": "en"}).get_data(as_text=True)
        found = re.search(r'class="result-count"[^>]*>(\d+) (results?) · Search took \d+ ms', english)
        assert found is not None and found[2] == ("result" if found[1] == "1" else "results"), found
    onboarding = client.get("/onboarding/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "3 个步骤" in onboarding


def test_errors_and_warnings_are_coloured_on_a_terminal_only(broken_articles: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    args = ["check", "--articles", str(broken_articles)]
    coloured = runner.invoke(cli, args, color=True)
    assert click.style("error", fg="red", bold=True) in coloured.output
    assert click.style("warning", fg="yellow", bold=True) in coloured.output
    plain = runner.invoke(cli, args)
    assert not ANSI.search(plain.output) and "en/bad.md:2:1: error: " in plain.output
    missing = runner.invoke(cli, ["check", "--articles", str(broken_articles / "nowhere")], color=True)
    assert click.style("error:", fg="red", bold=True) in missing.output
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(runner.invoke(cli, args, color=True).output)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


def test_every_command_listing_shows_its_whole_one_line_help() -> None:
    runner = CliRunner()
    for path, command in _commands(cli):
        assert command.help and command.help.strip(), f"kb {' '.join(path)} has no help"
        parent = runner.invoke(cli, [*path[:-1], "--help"], terminal_width=80)
        assert parent.exit_code == 0
        listing = " ".join(parent.output.split())
        first = " ".join(command.get_short_help_str(limit=10_000).split())
        assert "..." not in first, path
        assert f"{path[-1]} {first}" in listing, f"kb {' '.join(path[:-1])} --help cuts off {path[-1]}"


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")])
def test_shell_completion_works_as_the_readme_says(shell: str, marker: str) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"_KB_COMPLETE={shell}_source kb" in readme
    script = run_kb(_KB_COMPLETE=f"{shell}_source")  # what `eval "$(_KB_COMPLETE=... kb)"` runs
    assert script.returncode == 0 and marker in script.stdout
    # bash and zsh pass the index of the word being completed; fish passes the word itself.
    words = run_kb(_KB_COMPLETE=f"{shell}_complete", COMP_WORDS="kb sy", COMP_CWORD="sy" if shell == "fish" else "1")
    assert "sync" in words.stdout


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run kb with stderr on a pseudo-terminal; what the terminal showed."""
    import pty
    import select

    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "kbcli.main", *args], cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=follower, env={**os.environ, **env})
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: kb exited
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_kb_build_shows_progress_for_every_long_phase_on_a_terminal(tmp_path: Path) -> None:
    shown = _on_a_terminal(["build", "--articles", str(REPO / "articles"), "--index", str(tmp_path / "index")],
                           {"KB_LANG": "en"})
    for phase in ("loading", "rendering", "encoding", "indexing"):
        assert re.search(rf"{phase}\s+\[[#-]+\]", shown), (phase, shown[-500:])
    chinese = _on_a_terminal(["build", "--full", "--articles", str(REPO / "articles"), "--index",
                              str(tmp_path / "index")], {"KB_LANG": "zh"})
    assert "索引" in chinese and "编码" in chinese


def test_kb_build_logs_progress_lines_off_a_terminal(tmp_path: Path) -> None:
    result = run_kb("build", "--articles", str(REPO / "articles"), "--index", str(tmp_path / "index"))
    assert result.returncode == 0, result.stderr
    for phase in ("loading", "rendering", "encoding", "indexing"):
        assert re.search(rf"INFO kbcli\.build_search \[-\] {phase} \d+/\d+ articles", result.stderr), phase
    assert "\x1b[" not in result.stderr
