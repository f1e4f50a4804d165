"""Options every `kb` command shares, and the one place kb errors become messages and exit codes.

Commands raise (`KbError` and its subclasses carry their `exit_code`) or return an exit code;
`KbCommand.invoke` translates both, as Click's own `ClickException` is translated in `main`.
Every command is a `KbCommand`: `kb`'s group makes its commands so, and commands defined in other
modules pass `cls=KbCommand`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from kb.config import load_settings
from kb.errors import KbError
from kbcli.style import FullHelpGroup, colour, echo_error

F = TypeVar("F", bound=Callable[..., Any])

INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE: a bug in kb, not in what it was given


class KbCommand(click.Command):
    """A `kb` command: a `KbError` becomes `kb: error: ...` with its exit code; an int returned is the exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            code = super().invoke(ctx)
        except KbError as exc:
            echo_error(str(exc))
            ctx.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # a bug in kb: say so plainly; KB_DEBUG=1 shows the traceback
            if os.environ.get("KB_DEBUG"):
                raise
            label = click.style("internal error:", fg="red", bold=True)
            click.echo(f"kb: {label} {type(exc).__name__}: {exc} (set KB_DEBUG=1 for details)", err=True,
                       color=colour())
            ctx.exit(INTERNAL_ERROR_EXIT)
        if isinstance(code, int) and not isinstance(code, bool) and code:
            ctx.exit(code)
        return code


class KbGroup(FullHelpGroup):
    """The `kb` group: every command added with `@cli.command()` is a KbCommand; the listing shows
    each command's whole one-line help."""

    command_class = KbCommand


def common_options(command: F) -> F:
    """--articles and --index, resolved into a Settings object passed as `settings`
    (a bad setting raises ConfigError, which exits 2)."""

    @click.option("--articles", "articles_dir", type=click.Path(path_type=Path), default=None,
                  help="Articles folder [KB_ARTICLES_DIR, default: articles].")
    @click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None,
                  help="Index folder [KB_INDEX_DIR, default: var/index].")
    @functools.wraps(command)
    def wrapper(*args: Any, articles_dir: Path | None, index_dir: Path | None, **kwargs: Any) -> Any:
        settings = load_settings(articles_dir=articles_dir, index_dir=index_dir)
        return command(*args, settings=settings, **kwargs)

    return wrapper  # type: ignore[return-value]
