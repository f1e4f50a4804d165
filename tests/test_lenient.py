"""`--lenient` loads the shared real corpora without a crash, malformed files as warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.loader import LoadOptions, load_knowledge_base
from kbcli.main import cli
from tests.conftest import SHARED_CORPORA

CORPORA = sorted(p.name for p in SHARED_CORPORA.iterdir()) if SHARED_CORPORA.is_dir() else []
EDGE = SHARED_CORPORA / "frontmatter-edge-cases" / "files"


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_shared_corpus_loads_leniently(corpus: str) -> None:
    root = SHARED_CORPORA / corpus / "files"
    result = CliRunner().invoke(cli, ["check", "--lenient", "--articles", str(root)])
    assert result.exit_code == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert " error: " not in result.stdout
    files = sum(1 for _ in root.rglob("*.md"))
    assert f"{files} valid articles" in result.stderr


def test_corpora_are_present() -> None:
    assert len(CORPORA) >= 4, f"expected the shared corpora at {SHARED_CORPORA}"


def test_bom_front_matter_is_read_and_bad_yaml_is_a_warning() -> None:
    kb = load_knowledge_base(EDGE, LoadOptions(lenient=True, git_history=False))
    by_path = {a.path: a for a in kb.articles}
    write_host = by_path["MicrosoftDocs/PowerShell-Docs/reference/7.6/Microsoft.PowerShell.Utility/Write-Host.md"]
    assert write_host.title == "Write-Host"
    assert write_host.extra["Module Name"] == "Microsoft.PowerShell.Utility"
    zeebe = next(a for p, a in by_path.items() if p.endswith("zeebe-command.md"))
    assert zeebe.title != "zeebe command"  # came from the front-matter, not the file name
    foreach = "MicrosoftDocs/PowerShell-Docs/reference/7.6/Microsoft.PowerShell.Core/ForEach-Object.md"
    assert foreach in by_path
    assert by_path[foreach].title == "ForEach-Object"  # from the first heading
    assert any(p.path == foreach and "YAML syntax error" in p.message and not p.is_error for p in kb.problems)


def test_language_is_detected_from_the_text(tmp_path: Path) -> None:
    chinese = "---\ntitle: 备份\n---\n使用 BR 工具备份 TiDB 集群数据到 S3 存储。\n"
    (tmp_path / "zh.md").write_text(chinese, encoding="utf-8")
    (tmp_path / "en.md").write_text("---\ntitle: Notes\n---\nThese release notes are in English.\n", encoding="utf-8")
    kb = load_knowledge_base(tmp_path, LoadOptions(lenient=True, git_history=False))
    assert {a.id: a.lang for a in kb.articles} == {"zh": "zh", "en": "en"}
