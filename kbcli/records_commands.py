"""`kb link`, `kb import-resolutions`, `kb stats`, `kb boosts`, `kb flags` and `kb db`: records from the terminal."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from kb.clock import utc_now
from kb.config import Settings
from kb.loader import KnowledgeBase, LoadOptions, load_knowledge_base
from kb.records.articles import ArticleIds
from kb.records.db import Database
from kb.records.errors import UnknownArticleError
from kb.records.importer import import_resolutions, parse_time
from kb.records.kcs import TREND_UNITS
from kb.records.migrate import current_revision
from kb.records.models import RELATIONS
from kb.records.ranking import resolution_boosts, user_words, write_boosts
from kb.records.reports import ArticleUsage, KcsReport, Period, Reports, to_json
from kb.records.store import RecordStore
from kbcli.options import KbCommand, KbGroup, common_options
from search.build import BOOSTS
from search.user_words import USER_WORDS


def _knowledge_base(settings: Settings) -> KnowledgeBase:
    options = LoadOptions.from_settings(settings, render=False, git_history=False)
    return load_knowledge_base(settings.articles_dir, options)


def refresh_boosts(settings: Settings, db: Database) -> tuple[int, Path]:
    """Recompute every article's boost from its resolutions, and the words users used for it,
    and write both beside the index (boosts.json, user_words.json): no rebuild."""
    kb = _knowledge_base(settings)
    resolve = ArticleIds.from_articles(kb.articles).resolve
    found = resolution_boosts(db, resolve, utc_now())
    path = settings.index_dir / BOOSTS
    write_boosts(path, found)
    write_boosts(settings.index_dir / USER_WORDS, user_words(db, resolve))
    return len(found), path


@contextmanager
def records_database(settings: Settings) -> Iterator[Database]:
    """The records database for one command; its connections are closed at the end."""
    db = Database(settings.database_url)
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def open_store(settings: Settings) -> Iterator[RecordStore]:
    """The records store, checking article ids and categories against the articles folder."""
    kb = _knowledge_base(settings)
    ids = ArticleIds.from_articles(kb.articles)
    with records_database(settings) as db:
        yield RecordStore(db, ids.resolve, frozenset(kb.vocabulary.categories),
                          fold_ticket_case=settings.ticket_id_case == "insensitive")


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


@click.command(cls=KbCommand)
@common_options
@click.argument("article")
@click.argument("ticket")
@click.option("--category", required=True, help="The ticket's category, e.g. network/vpn.")
@click.option("--relation", type=click.Choice(RELATIONS), default="resolved", show_default=True)
@click.option("--system", "ticket_system", default=None, help="Ticketing system name [default: default].")
@click.option("--user", default=None, help="Who resolved the ticket [default: your login name].")
@click.option("--note", default="", help="A short note.")
@click.option("--opened", default=None, help="When the ticket was opened (ISO 8601; tells new from known).")
@click.option("--subject", default="", help="The ticket's subject line (words the article is then found by).")
def link(settings: Settings, article: str, ticket: str, category: str, relation: str, ticket_system: str | None,
         user: str | None, note: str, opened: str | None, subject: str) -> int:
    """Record that ARTICLE (id or alias) resolved TICKET."""
    with open_store(settings) as store:
        record = store.record_resolution(article=article, ticket_id=ticket, category=category,
                                         relation=relation, ticket_system=ticket_system,
                                         user=user or _default_user(), note=note, source="cli",
                                         ticket_opened=parse_time(opened or "", "--opened"), subject=subject)
    verb = "recorded" if record.created else "already recorded"
    click.echo(f"{verb}: {record.ticket_system}/{record.ticket_id} {record.relation} by {record.article_id} "
               f"({record.category})")
    return 0


@click.command(cls=KbCommand, name="import-resolutions")
@common_options
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", default=None, help="Who to record for rows without a user column.")
def import_resolutions_command(settings: Settings, csv_file: Path, user: str | None) -> int:
    """Record resolutions from a CSV file (ticket_id, article, category[, relation, ticket_system, user,
    note, when, ticket_opened, subject]); rejected rows are listed as FILE:LINE: reason and make the exit code 1."""

    with open_store(settings) as store, csv_file.open(encoding="utf-8-sig", newline="") as lines:
        report = import_resolutions(store, lines, user=user or _default_user())
    for rejected in report.rejected:
        click.echo(f"{csv_file}:{rejected.line}: rejected: {rejected.message}")
    click.echo(f"{report.recorded} recorded, {report.duplicates} already recorded, "
               f"{len(report.rejected)} rejected", err=True)
    return 1 if report.rejected else 0


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def format_kcs(report: KcsReport) -> str:
    """The KCS report as terminal text."""
    t = report.totals
    scope = f" in {report.category}" if report.category else ""
    m = report.measures
    band = report.link_rate_band
    lines = [f"KCS report{scope}, {report.period.label()}",
             f"tickets {t.tickets}   with article {t.with_article}   without {t.without_article}   "
             f"link rate {_percent(t.link_rate)} ({band.status or '-'} the {band.low:.0%}-{band.high:.0%} band)",
             f"reuse {report.reuse}   create {report.create}   known {report.new_vs_known.known}   "
             f"new {report.new_vs_known.new}   participation {_percent(report.participation)} "
             f"({m.participants} of {m.people} people)",
             f"link accuracy {_percent(report.link_accuracy)} ({m.links_reviewed} reviewed)   "
             f"helpful {_percent(report.helpful_rate)} ({m.feedback} answers)   "
             f"searches {report.searches}   with no results {report.zero_result_searches}", ""]
    if report.categories:
        width = max(8, *(len(s.category) for s in report.categories))
        lines.append(f"{'category':<{width}}  tickets  linked  link rate  reuse  new  top solution")
        for s in report.categories:
            top = f"{s.top_solutions[0].article_id} ({s.top_solutions[0].tickets})" if s.top_solutions else "-"
            lines.append(f"{s.category:<{width}}  {s.tickets:>7}  {s.with_article:>6}  {_percent(s.link_rate):>9}  "
                         f"{s.reuse:>5}  {s.new:>3}  {top}")
        lines.append("")
    if report.content_gaps:
        lines.append("content gaps:")
        for g in report.content_gaps:
            queries = ", ".join(f"{q.query!r} x{q.searches}" for q in g.zero_result_queries[:3])
            lines.append(f"  {g.category}: {g.without_article} of {g.tickets} tickets without an article"
                         + (f"; searched in vain: {queries}" if queries else ""))
    if report.zero_result_queries:
        lines.append("searches with no results: " + ", ".join(f"{q.query!r} x{q.searches}"
                                                             for q in report.zero_result_queries[:10]))
    if report.trend:
        lines.append(f"by {report.trend_unit}: " + "   ".join(
            f"{r.key} {r.tickets}t {_percent(r.link_rate)}" for r in report.trend[-12:]))
    lines.append(f"unused articles {len(report.unused_articles)}   review overdue {len(report.review_overdue)}   "
                 f"open flags {len(report.open_flags)}")
    return "\n".join(lines)


def format_usage(usage: ArticleUsage, period: Period) -> str:
    """One article's use as terminal text."""
    last = usage.last_used.strftime("%Y-%m-%d %H:%M UTC") if usage.last_used else "never"
    lines = [f"{usage.article_id}: {usage.title}, {period.label()}",
             f"tickets {usage.tickets}   resolved {usage.resolved}   referenced {usage.referenced}   "
             f"created from {usage.created_from}   last used {last}"]
    if usage.users:
        lines.append("by: " + ", ".join(f"{u.user or '?'} ({u.tickets})" for u in usage.users))
    for t in usage.recent:
        lines.append(f"  {t.when:%Y-%m-%d}  {t.ticket_system}/{t.ticket_id}  {t.relation}  {t.category}  {t.user}")
    return "\n".join(lines)


@click.command(cls=KbCommand)
@common_options
@click.option("--days", type=click.IntRange(min=0), default=30, show_default=True,
              help="Report on the last DAYS days (0: all time).")
@click.option("--category", default=None, help="Only this category and those below it.")
@click.option("--article", "article_id", default=None, help="Instead: one article's use on tickets.")
@click.option("--trend", type=click.Choice(TREND_UNITS), default=None, help="Add the measures week by week or "
              "month by month.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def stats(settings: Settings, days: int, category: str | None, article_id: str | None, trend: str | None,
          as_json: bool) -> int:
    """KCS report: link rate, reuse versus create, new versus known, participation, link accuracy,
    helpful rate, searches that found nothing; content gaps, unused and overdue articles, open flags.

    With --json the figures are top-level keys: link_rate, reuse, create, new_vs_known (known, new),
    participation, link_accuracy, helpful_rate, zero_result_searches."""
    # git history: each article's first commit is its birth (new versus known)
    kb = load_knowledge_base(settings.articles_dir, LoadOptions.from_settings(settings, render=False))
    period = Period.last_days(days, utc_now()) if days else Period()
    births = {a.id: h.created for a in kb.articles if (h := kb.history.get(a.path)) and h.created}
    with records_database(settings) as db:
        reports = Reports(db, kb.articles, births=births,
                          onboarding={s for p in kb.vocabulary.onboarding.values() for s in p.steps},
                          fold_ticket_case=settings.ticket_id_case == "insensitive")
        if article_id is not None:
            if reports.resolve(article_id) is None:
                raise UnknownArticleError(f"unknown article {article_id!r}: no article has this id or alias")
            usage = reports.article_usage(article_id, period, recent=20)
            click.echo(json.dumps(to_json(usage), ensure_ascii=False, indent=2) if as_json
                       else format_usage(usage, period))
            return 0
        report = reports.kcs(period, prefix=category.strip("/").lower() if category else None,
                             trend_unit=trend)
    click.echo(json.dumps(to_json(report), ensure_ascii=False, indent=2) if as_json else format_kcs(report))
    return 0


@click.command(cls=KbCommand)
@common_options
def boosts(settings: Settings) -> int:
    """Write the search boosts (resolution counts, decayed with age) and the words users used (ticket
    subjects, clicked searches) to the index folder; no rebuild."""
    with records_database(settings) as db:
        count, path = refresh_boosts(settings, db)
    click.echo(f"{count} article boosts written to {path}")
    return 0


@click.group(cls=KbGroup)
def db() -> None:
    """The records database: migrations and housekeeping."""


@db.command()
@common_options
def upgrade(settings: Settings) -> int:
    """Create or migrate the records database to the newest schema."""
    with records_database(settings) as database:
        database.upgrade()
        click.echo(f"{database.safe_url()} is at revision {current_revision(database)}")
        duplicates = RecordStore(database, lambda key: None).duplicate_tickets()
    if duplicates:
        # Not merged: which spelling is right, and which records to keep, is a person's call.
        click.echo(f"{len(duplicates)} ticket(s) are stored under several spellings; with "
                   f"KB_TICKET_ID_CASE={settings.ticket_id_case} "
                   + ("new records join the first spelling" if settings.ticket_id_case == "insensitive"
                      else "they stay separate tickets")
                   + ", the old ones were left as they are:", err=True)
        for d in duplicates:
            click.echo(f"  {d.table}: {d.ticket_system}/{' = '.join(d.spellings)}", err=True)
    return 0


@db.command("purge-searches")
@common_options
def purge_searches(settings: Settings) -> int:
    """Delete searches older than KB_SEARCH_LOG_RETENTION_DAYS from the search log."""
    with records_database(settings) as database:
        removed = RecordStore(database, lambda key: None).purge_search_log(settings.search_log_retention_days)
    click.echo(f"{removed} searches older than {settings.search_log_retention_days} days deleted")
    return 0


@click.group(cls=KbGroup)
def flags() -> None:
    """Flags on articles: list the open ones, close one when it is dealt with."""


@flags.command("list")
@common_options
@click.option("--all", "everything", is_flag=True, help="Closed flags too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def flags_list(settings: Settings, everything: bool, as_json: bool) -> int:
    """Open flags, newest first: id, article, who, reason."""
    with open_store(settings) as store:
        found = store.flags(status=None if everything else "open")
    if as_json:
        click.echo(json.dumps([to_json(f) for f in found], ensure_ascii=False, indent=2))
        return 0
    for f in found:
        closed = f"  [done by {f.done_by or '?'} {f.done_at:%Y-%m-%d}]" if f.done_at else ""
        click.echo(f"{f.id}\t{f.created_at:%Y-%m-%d}\t{f.article_id}\t{f.user or '?'}\t{f.reason}{closed}")
    return 0


@flags.command("close")
@common_options
@click.argument("flag_id", type=click.IntRange(min=1))
@click.option("--user", default=None, help="Who dealt with it [default: your login name].")
def flags_close(settings: Settings, flag_id: int, user: str | None) -> int:
    """Mark flag FLAG_ID done (closing a closed flag changes nothing)."""
    with open_store(settings) as store:
        before = store.flag(flag_id)
        closed = store.close_flag(flag_id, user=user or _default_user())
    verb = "was already closed" if before is not None and before.status == "done" else "closed"
    click.echo(f"flag {closed.id} on {closed.article_id} {verb} (by {closed.done_by or '?'})")
    return 0


COMMANDS = (link, import_resolutions_command, stats, boosts, db, flags)
