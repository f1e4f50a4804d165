"""`kb`: new, check, build, search, serve, and the records commands.

Each command imports its heavy modules (the loader, Whoosh, Flask, SQLAlchemy) when it runs,
so that `kb --help` and shell completion answer at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kb.config import Settings
from kb.errors import ConfigError, InputError, KbError
from kb.i18n import _, ngettext
from kb.schema import ARTICLE_TYPES, LANGUAGES, normalize_id
from kbcli.build_search import build, progress_display, search
from kbcli.i18n_commands import COMMANDS as I18N_COMMANDS
from kbcli.notify_commands import COMMANDS as NOTIFY_COMMANDS
from kbcli.options import KbGroup, common_options
from kbcli.records_commands import COMMANDS as RECORDS_COMMANDS
from kbcli.serve import serve
from kbcli.style import CONTEXT_SETTINGS, echo_problem
from kbcli.sync_commands import COMMANDS as SYNC_COMMANDS

if TYPE_CHECKING:
    from kb.loader import LoadOptions


@click.group(cls=KbGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="kb")
def cli() -> None:
    """kb: the support team's knowledge base.

    Shell completion (bash, zsh, fish): see "Shell completion" in the README, e.g.
    `eval "$(_KB_COMPLETE=bash_source kb)"` in ~/.bashrc.
    """


def load_options(settings: Settings, lenient: bool = False, render: bool = True) -> LoadOptions:
    """LoadOptions from the settings; check and new never show git history, so skip its `git log`."""
    from kb.loader import LoadOptions

    return LoadOptions.from_settings(settings, lenient=lenient, render=render, git_history=False)


@cli.command()
@common_options
@click.option("--lenient", is_flag=True,
              help="Load foreign Markdown (other front-matter schemas); problems become warnings.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def check(settings: Settings, lenient: bool, strict: bool) -> int:
    """Validate every article and the vocabulary; print path:line:col: problems."""
    if not settings.articles_dir.is_dir():
        raise ConfigError(_("articles folder %(path)s does not exist") % {"path": settings.articles_dir})
    from kb.loader import load_knowledge_base

    update, finish = progress_display(sys.stderr.isatty())
    try:
        kb = load_knowledge_base(settings.articles_dir,
                                 dataclasses.replace(load_options(settings, lenient), progress=update))
    finally:
        finish()
    for problem in kb.problems:
        echo_problem(str(problem))
    errors, warnings = len(kb.errors), len(kb.warnings)
    click.echo(_("%(articles)s; %(errors)s, %(warnings)s") % {
        "articles": ngettext("%(num)d valid article", "%(num)d valid articles", len(kb.articles))
        % {"num": len(kb.articles)},
        "errors": ngettext("%(num)d error", "%(num)d errors", errors) % {"num": errors},
        "warnings": ngettext("%(num)d warning", "%(num)d warnings", warnings) % {"num": warnings},
    }, err=True)
    return 1 if errors or (strict and warnings) else 0


def next_steps(settings: Settings, path: Path, article_type: str) -> str:
    """What a writer does after `kb new`: the article is a draft without a summary."""
    sections = "Issue, Environment, Resolution and Cause" if article_type == "problem" else "the sections"
    return "\n".join((
        "Next steps:",
        "  1. Write `summary:` in the front-matter: one or two sentences shown in search results.",
        f"  2. Fill in {sections}; put screenshots beside the file and write ![what it shows](file.png).",
        "  3. Change `state: draft` to `unverified` (or `validated` once reviewed): drafts are never published.",
        f"  4. Run `kb check --articles {settings.articles_dir}` and fix what it reports, then commit.",
    ))


def similar_articles(settings: Settings, title: str, limit: int = 3) -> list[str]:
    """Warnings about existing articles that look like the same fix (from the live index, if built)."""
    from search.service import SearchService  # here: only `kb new` needs the query side

    try:
        hits = SearchService(settings.index_dir).suggest_for_ticket(title, limit=limit).hits
    except KbError as exc:  # no index yet (or an unreadable one): the article is written all the same
        return [f"kb: note: similar articles were not looked for: {exc}"]
    if not hits:
        return []
    return ["kb: warning: existing articles look similar; update one of them rather than writing the same fix twice:",
            *(f"  {hit.id}  {hit.title}  ({hit.path})" for hit in hits)]


@cli.command()
@common_options
@click.argument("title")
@click.option("--type", "article_type", type=click.Choice(ARTICLE_TYPES), default="problem", show_default=True)
@click.option("--lang", type=click.Choice(LANGUAGES), default=None, help="Default: KB_DEFAULT_LANG.")
@click.option("--category", default=None, help="Ticket category, e.g. network/vpn.")
def new(settings: Settings, title: str, article_type: str, lang: str | None, category: str | None) -> int:
    """Create a new article from the template for its type, with a fresh id."""
    from kb.loader import load_knowledge_base
    from kb.scaffold import new_article

    kb = load_knowledge_base(settings.articles_dir, load_options(settings, render=False))
    if category and category not in kb.vocabulary.categories:
        raise InputError(_("unknown category %(category)r; allowed: %(allowed)s") % {
            "category": category, "allowed": ", ".join(sorted(kb.vocabulary.categories))})
    taken = {normalize_id(a.id) for a in kb.articles} | {
        normalize_id(alias) for a in kb.articles for alias in a.aliases}
    path = new_article(settings.articles_dir, title, article_type, lang or settings.default_lang,
                       category, taken, dt.date.today())
    click.echo(path)
    click.echo(next_steps(settings, path, article_type))
    for line in similar_articles(settings, title):
        click.echo(line, err=True)
    return 0


for command in (build, search, serve, *RECORDS_COMMANDS, *SYNC_COMMANDS, *I18N_COMMANDS, *NOTIFY_COMMANDS):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="kb")


if __name__ == "__main__":
    main()
