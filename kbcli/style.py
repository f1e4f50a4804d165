"""How `kb` talks on a terminal: coloured `error:` and `warning:`, full one-line help, and the language.

Colours only reach a terminal: click strips them when stderr or stdout is a file or a pipe (CI
logs, `kb check > problems.txt`), and NO_COLOR (no-color.org) turns them off everywhere. Problem
lines keep their English severity word (`path:line:col: error: ...`) so CI problem matchers read
them in any language; the messages themselves follow KB_LANG or the locale (kb.i18n).
"""

from __future__ import annotations

import os
import re
from typing import Any

import click

from kb.i18n import _

SEVERITY_COLOURS = {"error": "red", "warning": "yellow"}
# `path:line:col: error: message` as kb.errors.Problem prints it.
_PROBLEM = re.compile(r"^(?P<where>[^\n]*?:\d+:\d+: |[^\n]*?:\d+: )(?P<severity>error|warning)(?P<rest>: )")


def colour() -> bool | None:
    """None (click decides: colour on a terminal only), or False when NO_COLOR is set."""
    return False if os.environ.get("NO_COLOR") else None


def label(severity: str) -> str:
    """`error:` or `warning:` (translated), bold and coloured; click drops the colour off a terminal."""
    text = _("error:") if severity == "error" else _("warning:")
    return click.style(text, fg=SEVERITY_COLOURS[severity], bold=True)


def _prefixed(severity: str, message: str) -> str:
    styled = label(severity)
    gap = "" if click.unstyle(styled).endswith("：") else " "  # a full-width colon carries its own space
    return f"kb: {styled}{gap}{message}"


def echo_error(message: str) -> None:
    """`kb: error: message` on stderr."""
    click.echo(_prefixed("error", message), err=True, color=colour())


def echo_problem(line: str, err: bool = False) -> None:
    """A problem line with its severity word coloured (the text is unchanged off a terminal)."""
    match = _PROBLEM.match(line)
    if match is not None:
        severity = match["severity"]
        styled = click.style(severity, fg=SEVERITY_COLOURS[severity], bold=True)
        line = f"{match['where']}{styled}{match['rest']}{line[match.end():]}"
    click.echo(line, err=err, color=colour())


class FullHelpGroup(click.Group):
    """A command group whose listing shows each command's whole first sentence, never cut off with "..."."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            rows.append((name, command.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)

    def get_short_help_str(self, limit: int = 1_000) -> str:
        return super().get_short_help_str(limit=max(limit, 1_000))


CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 120}
