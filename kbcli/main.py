"""`kb`: new, check, build, search, serve, and the records commands.

Each command imports its heavy modules (the loader, Whoosh, Flask, SQLAlchemy) when it runs,
so that `kb --help` and shell completion answer at once.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from kb.config import Settings
from kb.schema import ARTICLE_TYPES, LANGUAGES, normalize_id
from kbcli.build_search import build, search
from kbcli.options import common_options, run_reporting_errors
from kbcli.records_commands import COMMANDS as RECORDS_COMMANDS
from kbcli.serve import serve
from kbcli.sync_commands import COMMANDS as SYNC_COMMANDS

if TYPE_CHECKING:
    from kb.loader import LoadOptions


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kb")
def cli() -> None:
    """kb: the support team's knowledge base."""


def load_options(settings: Settings, lenient: bool = False, render: bool = True) -> LoadOptions:
    """LoadOptions from the settings; check and new never show git history, so skip its `git log`."""
    from kb.loader import LoadOptions

    return LoadOptions.from_settings(settings, lenient=lenient, render=render, git_history=False)


@cli.command()
@common_options
@click.option("--lenient", is_flag=True,
              help="Load foreign Markdown (other front-matter schemas); problems become warnings.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def check(settings: Settings, lenient: bool, strict: bool) -> None:
    """Validate every article and the vocabulary; print path:line:col: problems."""

    def run() -> int:
        from kb.loader import load_knowledge_base

        if not settings.articles_dir.is_dir():
            click.echo(f"kb: error: articles folder {settings.articles_dir} does not exist", err=True)
            return 2
        kb = load_knowledge_base(settings.articles_dir, load_options(settings, lenient))
        for problem in kb.problems:
            click.echo(str(problem))
        errors, warnings = len(kb.errors), len(kb.warnings)
        click.echo(f"{len(kb.articles)} valid articles; {errors} error(s), {warnings} warning(s)", err=True)
        return 1 if errors or (strict and warnings) else 0

    run_reporting_errors(run)


@cli.command()
@common_options
@click.argument("title")
@click.option("--type", "article_type", type=click.Choice(ARTICLE_TYPES), default="problem", show_default=True)
@click.option("--lang", type=click.Choice(LANGUAGES), default=None, help="Default: KB_DEFAULT_LANG.")
@click.option("--category", default=None, help="Ticket category, e.g. network/vpn.")
def new(settings: Settings, title: str, article_type: str, lang: str | None, category: str | None) -> None:
    """Create a new article from the template for its type, with a fresh id."""

    def run() -> int:
        from kb.loader import load_knowledge_base
        from kb.scaffold import new_article

        kb = load_knowledge_base(settings.articles_dir, load_options(settings, render=False))
        if category and category not in kb.vocabulary.categories:
            click.echo(f"kb: error: unknown category {category!r}; allowed: "
                       f"{', '.join(sorted(kb.vocabulary.categories))}", err=True)
            return 2
        taken = {normalize_id(a.id) for a in kb.articles} | {
            normalize_id(alias) for a in kb.articles for alias in a.aliases}
        path = new_article(settings.articles_dir, title, article_type, lang or settings.default_lang,
                           category, taken, dt.date.today())
        click.echo(path)
        return 0

    run_reporting_errors(run)


for command in (build, search, serve, *RECORDS_COMMANDS, *SYNC_COMMANDS):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="kb")


if __name__ == "__main__":
    main()
