"""Options every `kb` command shares, and turning kb errors into exit codes."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from kb.config import load_settings
from kb.errors import KbError
from kbcli.style import echo_error

F = TypeVar("F", bound=Callable[..., Any])


def common_options(command: F) -> F:
    """--articles and --index, resolved into a Settings object passed as `settings`."""

    @click.option("--articles", "articles_dir", type=click.Path(path_type=Path), default=None,
                  help="Articles folder [KB_ARTICLES_DIR, default: articles].")
    @click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None,
                  help="Index folder [KB_INDEX_DIR, default: var/index].")
    @functools.wraps(command)
    def wrapper(*args: Any, articles_dir: Path | None, index_dir: Path | None, **kwargs: Any) -> Any:
        try:
            settings = load_settings(articles_dir=articles_dir, index_dir=index_dir)
        except KbError as exc:
            raise click.ClickException(str(exc)) from None
        return command(*args, settings=settings, **kwargs)

    return wrapper  # type: ignore[return-value]


def run_reporting_errors(call: Callable[[], int | None]) -> None:
    """Run a command body: kb errors become a message and their exit code, never a traceback."""
    try:
        code = call()
    except KbError as exc:
        echo_error(str(exc))
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug in kb: say so plainly; KB_DEBUG=1 shows the traceback
        if os.environ.get("KB_DEBUG"):
            raise
        echo_error(f"internal error: {type(exc).__name__}: {exc} (set KB_DEBUG=1 for details)")
        sys.exit(70)
    sys.exit(code or 0)

