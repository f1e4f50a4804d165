"""kb.files: the one atomic writer and the one tolerant JSON reader."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kb.files import atomic_open, atomic_write, read_json_object, write_json


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write(b'{"a": 2, "cut')
        raise RuntimeError("killed mid-write")
    assert read_json_object(path) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize("content", [None, "", "{not json", "[1, 2]", "\xff"])
def test_missing_cut_short_or_non_object_json_reads_as_none(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "x.json"
    if content is not None:
        atomic_write(path, content.encode("latin-1") if content == "\xff" else content)
    assert read_json_object(path) is None
