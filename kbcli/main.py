"""`kb`: new, check, build, search, serve, and the records commands."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys

import click

from kb.config import Settings
from kb.errors import ConfigError, InputError
from kb.i18n import _, ngettext
from kb.loader import LoadOptions, load_knowledge_base
from kb.scaffold import new_article
from kb.schema import ARTICLE_TYPES, LANGUAGES, normalize_id
from kbcli.build_search import build, progress_display, search
from kbcli.i18n_commands import COMMANDS as I18N_COMMANDS
from kbcli.notify_commands import COMMANDS as NOTIFY_COMMANDS
from kbcli.options import KbGroup, common_options
from kbcli.records_commands import COMMANDS as RECORDS_COMMANDS
from kbcli.serve import serve
from kbcli.style import CONTEXT_SETTINGS, echo_problem
from kbcli.sync_commands import COMMANDS as SYNC_COMMANDS


@click.group(cls=KbGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="kb")
def cli() -> None:
    """kb: the support team's knowledge base.

    Shell completion (bash, zsh, fish): see "Shell completion" in the README, e.g.
    `eval "$(_KB_COMPLETE=bash_source kb)"` in ~/.bashrc.
    """


def load_options(settings: Settings, lenient: bool = False, render: bool = True) -> LoadOptions:
    """LoadOptions from the settings; check and new never show git history, so skip its `git log`."""
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


@cli.command()
@common_options
@click.argument("title")
@click.option("--type", "article_type", type=click.Choice(ARTICLE_TYPES), default="problem", show_default=True)
@click.option("--lang", type=click.Choice(LANGUAGES), default=None, help="Default: KB_DEFAULT_LANG.")
@click.option("--category", default=None, help="Ticket category, e.g. network/vpn.")
def new(settings: Settings, title: str, article_type: str, lang: str | None, category: str | None) -> int:
    """Create a new article from the template for its type, with a fresh id."""
    kb = load_knowledge_base(settings.articles_dir, load_options(settings, render=False))
    if category and category not in kb.vocabulary.categories:
        raise InputError(_("unknown category %(category)r; allowed: %(allowed)s") % {
            "category": category, "allowed": ", ".join(sorted(kb.vocabulary.categories))})
    taken = {normalize_id(a.id) for a in kb.articles} | {
        normalize_id(alias) for a in kb.articles for alias in a.aliases}
    path = new_article(settings.articles_dir, title, article_type, lang or settings.default_lang,
                       category, taken, dt.date.today())
    click.echo(path)
    return 0


for command in (build, search, serve, *RECORDS_COMMANDS, *SYNC_COMMANDS, *I18N_COMMANDS, *NOTIFY_COMMANDS):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="kb")


if __name__ == "__main__":
    main()
