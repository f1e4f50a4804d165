"""`kb build` and `kb search`: thin wrappers around search.build_index and SearchService."""

from __future__ import annotations

import html
import json
import logging
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from kb.article import article_url
from kb.config import Settings
from kb.errors import KbError
from kb.i18n import N_, _
from kb.logs import configure_command
from kbcli.options import KbCommand, common_options
from kbcli.style import colour, echo_problem
from search.errors import BuildError
from search.results import DEFAULT_LIMIT, MAX_LIMIT, SearchRequest, SearchResult

if TYPE_CHECKING:
    from search.build import BuildReport

log = logging.getLogger(__name__)

_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


PHASES = {"loading": N_("loading"), "rendering": N_("rendering"), "encoding": N_("encoding"),
          "indexing": N_("indexing")}


def progress_display(enabled: bool) -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """A progress bar per long phase on a terminal (loading, rendering, encoding, indexing);
    a log line every 10% of each phase otherwise (CI logs, systemd's journal)."""
    state: dict[str, Any] = {"phase": None, "bar": None}

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)
            state["bar"] = None

    if enabled:
        def update(phase: str, done: int, total: int) -> None:
            if state["phase"] != phase:
                close()
                state["phase"] = phase
                state["bar"] = click.progressbar(length=total, label=f"{_(PHASES.get(phase, phase)):<10}",
                                                 file=sys.stderr, color=colour())
                state["bar"].__enter__()
            state["bar"].update(1)

        return update, close

    def log_update(phase: str, done: int, total: int) -> None:
        step = max(1, total // 10)
        if done % step == 0 or done == total:
            log.info("%s %d/%d articles", phase, done, total)

    return log_update, lambda: None


def run_build(settings: Settings, full: bool = False, lenient: bool = False, strict: bool = False,
              quiet: bool = False) -> int:
    """Build the index, print problems and a summary; the exit code (what `kb build` and build.py run)."""
    from search.build import build_index  # here, not at the top: `kb --help` must not import Whoosh

    configure_command("INFO")
    update, finish = progress_display(sys.stderr.isatty() and not quiet)
    try:
        report: BuildReport = build_index(settings, full=full, lenient=lenient, strict=strict, progress=update)
    except BuildError as exc:
        finish()
        for problem in exc.problems:
            echo_problem(str(problem), err=True)
        raise
    finish()
    for problem in report.problems:
        echo_problem(str(problem), err=True)
    for line in report.previous_errors:
        click.echo(line, err=True)
    where = report.build_dir.name if report.build_dir else "live build kept"
    click.echo(f"{report.mode} build: {report.articles} articles ({report.added} added, {report.changed} changed, "
               f"{report.removed} removed, {report.skipped_drafts} drafts left out); {len(report.errors)} article(s) "
               f"with errors left out; load {report.load_seconds:.1f}s, index {report.index_seconds:.1f}s; "
               f"{where}", err=True)
    return 0


@click.command(cls=KbCommand)
@common_options
@click.option("--full", is_flag=True, help="Rebuild everything instead of only changed articles.")
@click.option("--lenient", is_flag=True, help="Load foreign Markdown (other front-matter schemas).")
@click.option("--strict", is_flag=True, help="Fail on any error or warning instead of leaving articles out.")
def build(settings: Settings, full: bool, lenient: bool, strict: bool) -> int:
    """Build the search index and swap it in atomically."""
    return run_build(settings, full=full, lenient=lenient, strict=strict)


def plain_snippet(snippet: str, width: int = 200) -> str:
    """A highlighted HTML snippet as terminal text: entities decoded, matches in bold (click drops the
    bold when the output is not a terminal), cut at `width` visible characters."""
    out: list[str] = []
    shown = 0
    for number, part in enumerate(_MARK.split(snippet)):
        text = click.unstyle(html.unescape(part))[:max(0, width - shown)]
        shown += len(text)
        out.append(click.style(text, bold=True) if number % 2 and text else text)
    return "".join(out)


def _print_result(result: SearchResult, base_url: str = "") -> None:
    click.echo(f"{result.total} result(s) in {result.took_ms:.1f} ms" +
               (f"; showing results for: {result.showing_results_for} (search instead for "
                f"{result.search_instead_for!r} with --verbatim)" if result.showing_results_for else ""))
    if result.notice:
        click.echo(result.notice)
    first = (result.page - 1) * result.limit
    for number, hit in enumerate(result.hits, start=first + 1):
        click.echo(f"{number:3}. {click.style(hit.title, bold=True)}  [{hit.id}] {hit.state} {hit.lang}")
        click.echo(f"     {hit.path}")
        if base_url:
            click.echo(f"     {base_url.rstrip('/')}{article_url(hit.id)}")
        text = plain_snippet(hit.snippet)
        if text:
            click.echo(f"     {text}")


@click.command(cls=KbCommand)
@common_options
@click.argument("query", required=False, default="")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=DEFAULT_LIMIT, show_default=True)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--category", multiple=True, help="Only this ticket category (and its subcategories).")
@click.option("--tag", multiple=True)
@click.option("--product", multiple=True)
@click.option("--type", "type_", multiple=True)
@click.option("--lang", multiple=True)
@click.option("--state", multiple=True, help="validated, unverified or archived (archived is hidden otherwise).")
@click.option("--batch", is_flag=True, help="Read one query per line from stdin; write one JSON result per line.")
@click.option("--verbatim", is_flag=True, help="Search the words as typed, without correcting misspellings.")
def search(settings: Settings, query: str, as_json: bool, limit: int, page: int, category: tuple[str, ...],
           tag: tuple[str, ...], product: tuple[str, ...], type_: tuple[str, ...], lang: tuple[str, ...],
           state: tuple[str, ...], batch: bool, verbatim: bool) -> int:
    """Search the index: words, "phrases", -exclusions, prefix*, field:value filters."""
    filters = {k: list(v) for k, v in (("category", category), ("tag", tag), ("product", product),
                                       ("type", type_), ("lang", lang), ("state", state)) if v}

    from search.service import SearchService  # here: `kb build` need not import the query side (numpy)

    service = SearchService(settings.index_dir, semantic=settings.semantic, wait_for_encoder=True)
    if batch:
        for line in sys.stdin:
            text = line.rstrip("\n")
            try:
                result = service.search(SearchRequest(text, filters=filters, limit=limit, page=page,
                                                      correct=not verbatim))
                out = result.to_json()
            except KbError as exc:
                out = {"query": text, "error": str(exc)}
            click.echo(json.dumps(out, ensure_ascii=False))
        return 0
    result = service.search(SearchRequest(query, filters=filters, limit=limit, page=page, correct=not verbatim))
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_result(result, settings.base_url)
    return 0
