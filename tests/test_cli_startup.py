"""`kb --help` and shell completion answer at once: no command imports its heavy modules until it runs."""

from __future__ import annotations

import os
import subprocess
import sys

# markdown is not listed: search.results (the search contract kb search declares its options with) imports kb.render.
HEAVY = ("flask", "sqlalchemy", "alembic", "rjieba", "whoosh", "numpy", "yaml", "jinja2", "kb.loader",
         "search.build", "web.app")

PROBE = """
import sys
from kbcli.main import cli
try:
    cli(prog_name="kb")
except SystemExit:
    pass
loaded = [name for name in {heavy!r} if name in sys.modules]
print("LOADED", ",".join(loaded))
"""


def _loaded_after(args: list[str], env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=60, check=True).stdout
    body, _, last = out.rpartition("LOADED ")
    return body, [name for name in last.strip().split(",") if name]


def test_help_imports_no_heavy_module() -> None:
    body, loaded = _loaded_after(["--help"])
    assert "build" in body and "serve" in body and "stats" in body  # every command is still listed
    assert loaded == []


def test_subcommand_help_and_completion_import_no_heavy_module() -> None:
    body, loaded = _loaded_after(["link", "--help"])
    assert "resolved|referenced|created_from" in body and loaded == []
    body, loaded = _loaded_after([], {"_KB_COMPLETE": "bash_complete", "COMP_WORDS": "kb bu", "COMP_CWORD": "1"})
    assert "build" in body and loaded == []
