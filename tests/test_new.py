"""`kb new` writes an article that passes `kb check`, with a fresh id."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kb.loader import LoadOptions, load_knowledge_base
from kbcli.main import cli


def new(root: Path, *args: str) -> tuple[int, str]:
    """Exit code and output of `kb new`; its first line is the new file's path."""
    result = CliRunner().invoke(cli, ["new", "--articles", str(root), *args])
    return result.exit_code, result.stdout + result.stderr


def created(output: str) -> Path:
    return Path(output.splitlines()[0])


def test_new_problem_article_has_kcs_sections_and_passes_check(articles_dir: Path) -> None:
    code, out = new(articles_dir, "Printer shows error 0x00000709", "--type", "problem",
                    "--category", "network/vpn")
    assert code == 0, out
    path = created(out)
    assert path == articles_dir / "en" / "network" / "printer-shows-error-0x00000709.md"
    text = path.read_text(encoding="utf-8")
    for heading in ("## Issue", "## Environment", "## Resolution", "## Cause"):
        assert heading in text
    kb = load_knowledge_base(articles_dir, LoadOptions(git_history=False))
    assert kb.errors == []
    made = {a.id: a for a in kb.articles}["printer-shows-error-0x00000709"]
    assert made.state == "draft"
    assert made.type == "problem"


def test_new_chinese_title_gets_a_unique_ascii_id(articles_dir: Path) -> None:
    first = created(new(articles_dir, "打印机脱机", "--lang", "zh")[1])
    second = created(new(articles_dir, "打印机脱机", "--lang", "zh")[1])
    assert first != second
    assert first.stem.isascii() and second.stem.isascii()
    assert "## 解决方法" in first.read_text(encoding="utf-8")
    assert load_knowledge_base(articles_dir, LoadOptions(git_history=False)).errors == []


def test_new_with_same_title_twice_never_overwrites(articles_dir: Path) -> None:
    first = created(new(articles_dir, "VPN fails with error 809")[1])
    assert first.stem != "vpn-error-809"
    second = created(new(articles_dir, "VPN fails with error 809")[1])
    assert first != second and first.exists() and second.exists()


def test_new_rejects_unknown_category(articles_dir: Path) -> None:
    code, out = new(articles_dir, "Anything", "--category", "nope")
    assert code == 2
    assert "unknown category 'nope'" in out


def test_chinese_titles_get_readable_pinyin_ids(articles_dir: Path) -> None:
    assert created(new(articles_dir, "VPN 断线后无法重连", "--lang", "zh")[1]).stem == "vpn-duanxian-hou-wufa-chonglian"
    assert created(new(articles_dir, "打印机脱机", "--lang", "zh")[1]).stem == "dayinji-tuoji"
    assert created(new(articles_dir, "打印机脱机", "--lang", "zh")[1]).stem == "dayinji-tuoji-2"
    assert created(new(articles_dir, "重置密码后无法登录", "--lang", "zh")[1]).stem == "chongzhi-mima-hou-wufa-denglu"
    mixed = created(new(articles_dir, "Outlook 重复要求输入密码 0x80070005", "--lang", "zh")[1])
    assert mixed.stem == "outlook-chongfu-yaoqiu-shuru-mima-0x80070005"
    assert load_knowledge_base(articles_dir, LoadOptions(git_history=False)).errors == []


def test_new_prints_the_next_steps(articles_dir: Path) -> None:
    code, out = new(articles_dir, "Teams camera is black")
    assert code == 0
    assert "Next steps:" in out
    for needle in ("`summary:`", "`state: draft`", "kb check --articles"):
        assert needle in out


def test_new_warns_of_similar_articles_in_the_index(articles_dir: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    code, out = new(articles_dir, "VPN error 809 again", "--index", str(index))
    assert code == 0 and "similar articles were not looked for" in out  # no index yet: a note, not a failure
    assert CliRunner().invoke(cli, ["build", "--articles", str(articles_dir), "--index", str(index)]).exit_code == 0
    code, out = new(articles_dir, "Error 809 on the L2TP VPN", "--index", str(index))
    assert code == 0
    assert "existing articles look similar" in out
    assert "vpn-error-809  VPN fails with error 809  (en/vpn-error-809.md)" in out
    code, out = new(articles_dir, "Teams camera is black", "--index", str(index))
    assert "look similar" not in out
