"""The README stays in step with the schema and the settings."""

from __future__ import annotations

import re

from kb.config import SETTINGS, env_name
from kb.schema import FIELDS
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _table_keys(section: str) -> set[str]:
    start = README.index(section)
    rest = README[start:]
    table = rest[: rest.index("\n\n", rest.index("| ---"))]
    return set(re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE))


def test_writer_guide_lists_every_front_matter_field() -> None:
    assert _table_keys("### Front-matter fields") == {f.name for f in FIELDS}


def test_settings_reference_lists_every_setting() -> None:
    assert _table_keys("## Settings") == {env_name(s) for s in SETTINGS}


def test_every_field_and_setting_is_documented_in_code() -> None:
    assert all(f.doc.strip() for f in FIELDS)
    assert all(s.metadata["help"].strip() for s in SETTINGS)


def test_readme_quick_start_commands_exist() -> None:
    for script in ("scripts/serve", "scripts/test"):
        assert f"\n{script}\n" in README
        assert (REPO / script).stat().st_mode & 0o111
    assert "scripts/test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
