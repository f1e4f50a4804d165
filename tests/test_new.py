"""`kb new` writes an article that passes `kb check`, with a fresh id."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kb.loader import LoadOptions, load_knowledge_base
from kbcli.main import cli


def new(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["new", "--articles", str(root), *args])
    return result.exit_code, result.stdout + result.stderr


def test_new_problem_article_has_kcs_sections_and_passes_check(articles_dir: Path) -> None:
    code, out = new(articles_dir, "Printer shows error 0x00000709", "--type", "problem",
                    "--category", "network/vpn")
    assert code == 0, out
    path = Path(out.strip())
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
    first = Path(new(articles_dir, "打印机脱机", "--lang", "zh")[1].strip())
    second = Path(new(articles_dir, "打印机脱机", "--lang", "zh")[1].strip())
    assert first != second
    assert first.stem.isascii() and second.stem.isascii()
    assert "## 解决方法" in first.read_text(encoding="utf-8")
    assert load_knowledge_base(articles_dir, LoadOptions(git_history=False)).errors == []


def test_new_with_same_title_twice_never_overwrites(articles_dir: Path) -> None:
    first = Path(new(articles_dir, "VPN fails with error 809")[1].strip())
    assert first.stem != "vpn-error-809"
    second = Path(new(articles_dir, "VPN fails with error 809")[1].strip())
    assert first != second and first.exists() and second.exists()


def test_new_rejects_unknown_category(articles_dir: Path) -> None:
    code, out = new(articles_dir, "Anything", "--category", "nope")
    assert code == 2
    assert "unknown category 'nope'" in out
