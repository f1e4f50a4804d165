"""Build the search index: `python build.py [--articles DIR] [--index DIR] [--full] [--lenient] [--strict]`.

The same command as `kb build`.
"""

from __future__ import annotations

from kbcli.build_search import build

if __name__ == "__main__":
    build.main(prog_name="build.py")
