"""Reports over the records: per article, per category, and the KCS reports.

Every function takes the database and the current articles; records stored under an
id that is now an alias count for the article that carries the alias. Results are
plain dataclasses; `csv_text` turns any list of them into CSV for download.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import io
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from kb.records.articles import ArticleIds, ArticleLike, Resolver
from kb.records.db import Database
from kb.records.models import ClosedTicket, Flag, Resolution, SearchLogEntry

NEW_RELATIONS = frozenset({"created_from"})
GAP_MIN_TICKETS = 3
GAP_MAX_LINK_RATE = 0.5


@dataclass(frozen=True)
class Period:
    """A half-open time range [since, until); None means unbounded."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def last_days(cls, days: int, now: dt.datetime) -> Period:
        """The `days` days up to now."""
        return cls(now - dt.timedelta(days=days), None)

    def label(self) -> str:
        """For headings: `2026-10-01 – 2026-11-01`, or `all time`."""
        if self.since is None and self.until is None:
            return "all time"
        left = self.since.date().isoformat() if self.since else "…"
        right = self.until.date().isoformat() if self.until else "now"
        return f"{left} – {right}"


def _within(column: Any, period: Period) -> list[Any]:
    parts = []
    if period.since is not None:
        parts.append(column >= period.since)
    if period.until is not None:
        parts.append(column < period.until)
    return parts


def _in_category(category: str, prefix: str | None) -> bool:
    return prefix is None or category == prefix or category.startswith(prefix + "/")


@dataclass(frozen=True)
class UserCount:
    user: str
    tickets: int


@dataclass(frozen=True)
class TicketLink:
    ticket_system: str
    ticket_id: str
    relation: str
    category: str
    user: str
    when: dt.datetime
    note: str


@dataclass(frozen=True)
class ArticleUsage:
    """How one article has been used on tickets."""

    article_id: str
    title: str
    tickets: int  # distinct tickets, any relation
    resolved: int
    referenced: int
    created_from: int
    last_used: dt.datetime | None
    users: tuple[UserCount, ...]
    recent: tuple[TicketLink, ...]
    categories: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Solution:
    article_id: str
    title: str
    tickets: int


@dataclass(frozen=True)
class CategoryStats:
    """Tickets of one category: with and without an article, and the articles that solved them."""

    category: str
    tickets: int
    with_article: int
    without_article: int
    link_rate: float | None  # None when there were no tickets
    reuse: int  # tickets solved by an article that already existed
    new: int  # tickets an article was written from
    articles_linked: int
    top_solutions: tuple[Solution, ...] = ()


@dataclass(frozen=True)
class QueryCount:
    query: str
    searches: int
    category: str | None = None


@dataclass(frozen=True)
class ContentGap:
    """A category with many tickets and few linked articles, and what people searched for in vain."""

    category: str
    tickets: int
    without_article: int
    link_rate: float | None
    articles_linked: int
    zero_result_queries: tuple[QueryCount, ...] = ()


@dataclass(frozen=True)
class ArticleRef:
    article_id: str
    title: str
    owner: str = ""
    state: str = ""
    review_due: dt.date | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenFlag:
    id: int
    article_id: str
    title: str
    reason: str
    user: str
    created_at: dt.datetime


@dataclass(frozen=True)
class KcsReport:
    """The KCS health of a period: link rate, reuse versus new, gaps, unused and stale articles."""

    period: Period
    category: str | None
    totals: CategoryStats
    categories: tuple[CategoryStats, ...]
    content_gaps: tuple[ContentGap, ...]
    zero_result_queries: tuple[QueryCount, ...]
    unused_articles: tuple[ArticleRef, ...]
    review_overdue: tuple[ArticleRef, ...]
    open_flags: tuple[OpenFlag, ...]


@dataclass
class _Row:
    system: str
    ticket: str
    article: str
    relation: str
    category: str
    user: str
    when: dt.datetime
    note: str


@dataclass
class _Tally:
    tickets: set[tuple[str, str]] = field(default_factory=set)
    linked: set[tuple[str, str]] = field(default_factory=set)
    new: set[tuple[str, str]] = field(default_factory=set)
    solutions: Counter[str] = field(default_factory=Counter)
    solution_tickets: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))

    def stats(self, category: str, titles: dict[str, str], top: int) -> CategoryStats:
        with_article = len(self.linked)
        total = len(self.tickets)
        best = sorted(self.solution_tickets.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
        return CategoryStats(
            category=category, tickets=total, with_article=with_article, without_article=total - with_article,
            link_rate=round(with_article / total, 4) if total else None,
            reuse=len(self.linked - self.new), new=len(self.new), articles_linked=len(self.solution_tickets),
            top_solutions=tuple(Solution(a, titles.get(a, a), len(t)) for a, t in best))


class Reports:
    """Reports over one database for one set of current articles."""

    def __init__(self, db: Database, articles: Sequence[ArticleLike], today: dt.date | None = None,
                 resolve: Resolver | None = None) -> None:
        """`resolve` maps an id or alias to the current id (built from `articles` when not given)."""
        self.db = db
        self.articles = articles
        self.resolve = resolve or ArticleIds.from_articles(articles).resolve
        self.today = today or dt.date.today()

    @functools.cached_property
    def by_id(self) -> dict[str, ArticleLike]:
        return {a.id: a for a in self.articles}

    @functools.cached_property
    def titles(self) -> dict[str, str]:
        return {a.id: a.title for a in self.articles}

    def _current(self, stored_id: str) -> str:
        return self.resolve(stored_id) or stored_id

    def _stored_ids(self, current: str) -> set[str]:
        """Ids an article's records may carry: its id now, and its aliases (ids it had before)."""
        article = self.by_id.get(current)
        aliases = article.aliases if article is not None else ()
        return {current, *aliases, *(a.removesuffix(".md") for a in aliases)}

    def _rows(self, period: Period, article_id: str | None = None) -> list[_Row]:
        stmt = select(Resolution.ticket_system, Resolution.ticket_id, Resolution.article_id, Resolution.relation,
                      Resolution.category, Resolution.user, Resolution.created_at, Resolution.note
                      ).where(*_within(Resolution.created_at, period))
        if article_id is not None:
            stmt = stmt.where(Resolution.article_id.in_(sorted(self._stored_ids(article_id))))
        with self.db.session() as session:
            rows = [_Row(s, t, self._current(a), r, c, u, w, n) for s, t, a, r, c, u, w, n in session.execute(stmt)]
        if article_id is not None:
            rows = [r for r in rows if r.article == article_id]
        return rows

    def _closed(self, period: Period) -> list[tuple[str, str, str]]:
        stmt = select(ClosedTicket.ticket_system, ClosedTicket.ticket_id, ClosedTicket.category
                      ).where(*_within(ClosedTicket.closed_at, period))
        with self.db.session() as session:
            return [(s, t, c) for s, t, c in session.execute(stmt)]

    # -- per article ----------------------------------------------------------------------------
    def article_usage(self, article_id: str, period: Period = Period(), recent: int = 10) -> ArticleUsage:
        """Tickets an article resolved, when it was last used, and by whom."""
        current = self._current(article_id)
        rows = sorted(self._rows(period, current), key=lambda r: r.when, reverse=True)
        tickets = {(r.system, r.ticket) for r in rows}
        by_relation = {rel: len({(r.system, r.ticket) for r in rows if r.relation == rel})
                       for rel in ("resolved", "referenced", "created_from")}
        users: dict[str, set[tuple[str, str]]] = defaultdict(set)
        categories: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for r in rows:
            users[r.user].add((r.system, r.ticket))
            categories[r.category].add((r.system, r.ticket))
        return ArticleUsage(
            article_id=current, title=self.titles.get(current, current), tickets=len(tickets),
            resolved=by_relation["resolved"], referenced=by_relation["referenced"],
            created_from=by_relation["created_from"], last_used=rows[0].when if rows else None,
            users=tuple(UserCount(u, len(t)) for u, t in sorted(users.items(), key=lambda kv: (-len(kv[1]), kv[0]))),
            recent=tuple(TicketLink(r.system, r.ticket, r.relation, r.category, r.user, r.when, r.note)
                         for r in rows[:recent]),
            categories=tuple((c, len(t)) for c, t in sorted(categories.items(), key=lambda kv: (-len(kv[1]), kv[0]))))

    def usage_counts(self, period: Period = Period()) -> dict[str, int]:
        """Distinct tickets per current article id (for listings and category pages)."""
        tickets: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for r in self._rows(period):
            tickets[r.article].add((r.system, r.ticket))
        return {a: len(t) for a, t in tickets.items()}

    # -- per category ---------------------------------------------------------------------------
    def _tallies(self, period: Period, prefix: str | None) -> tuple[dict[str, _Tally], _Tally]:
        tallies: dict[str, _Tally] = defaultdict(_Tally)
        total = _Tally()
        for r in self._rows(period):
            if not _in_category(r.category, prefix):
                continue
            key = (r.system, r.ticket)
            for tally in (tallies[r.category], total):
                tally.tickets.add(key)
                tally.linked.add(key)
                if r.relation in NEW_RELATIONS:
                    tally.new.add(key)
                tally.solution_tickets[r.article].add(key)
        for system, ticket, category in self._closed(period):
            if _in_category(category, prefix):
                tallies[category].tickets.add((system, ticket))
                total.tickets.add((system, ticket))
        return tallies, total

    def categories(self, period: Period = Period(), prefix: str | None = None, top: int = 5) -> list[CategoryStats]:
        """Per ticket category: tickets with and without an article, link rate, top solutions."""
        tallies, _total = self._tallies(period, prefix)
        return sorted((t.stats(c, self.titles, top) for c, t in tallies.items()),
                      key=lambda s: (-s.tickets, s.category))

    # -- KCS ------------------------------------------------------------------------------------
    def zero_result_queries(self, period: Period = Period(), limit: int = 50) -> list[QueryCount]:
        """Searches that found nothing, grouped by query (case and spacing folded), most frequent first."""
        stmt = (select(SearchLogEntry.query, SearchLogEntry.filters, func.count())
                .where(SearchLogEntry.result_count == 0, *_within(SearchLogEntry.created_at, period))
                .group_by(SearchLogEntry.query, SearchLogEntry.filters))
        grouped: Counter[tuple[str, str | None]] = Counter()
        with self.db.session() as session:
            for query, filters, n in session.execute(stmt):
                text = " ".join(query.casefold().split())
                if not text:
                    continue
                grouped[(text, _filter_category(filters))] += int(n)
        ranked = sorted(grouped.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ""))
        return [QueryCount(q, n, c) for (q, c), n in ranked[:limit]]

    def kcs(self, period: Period = Period(), prefix: str | None = None, top: int = 5,
            gap_min_tickets: int = GAP_MIN_TICKETS, gap_max_link_rate: float = GAP_MAX_LINK_RATE) -> KcsReport:
        """Link rate, reuse versus new, content gaps, unused articles, review overdue and open flags."""
        tallies, total = self._tallies(period, prefix)
        stats = sorted((t.stats(c, self.titles, top) for c, t in tallies.items()),
                       key=lambda s: (-s.tickets, s.category))
        zero = [q for q in self.zero_result_queries(period, limit=500)
                if q.category is None or _in_category(q.category, prefix)]
        by_category: dict[str, list[QueryCount]] = defaultdict(list)
        for q in zero:
            if q.category:
                by_category[q.category].append(q)
        gaps = []
        seen = set()
        for s in stats:
            if s.tickets >= gap_min_tickets and (s.link_rate or 0.0) <= gap_max_link_rate:
                queries = [q for c, qs in by_category.items() if _in_category(c, s.category) for q in qs]
                gaps.append(ContentGap(s.category, s.tickets, s.without_article, s.link_rate, s.articles_linked,
                                       tuple(sorted(queries, key=lambda q: (-q.searches, q.query))[:10])))
                seen.add(s.category)
        for category, queries in sorted(by_category.items()):
            if category not in seen and sum(q.searches for q in queries) >= gap_min_tickets:
                gaps.append(ContentGap(category, 0, 0, None, 0, tuple(queries[:10])))
        gaps.sort(key=lambda g: (-g.without_article, -sum(q.searches for q in g.zero_result_queries), g.category))
        used = {a for t in tallies.values() for a in t.solution_tickets}
        listed = [a for a in self.articles if a.state not in ("archived", "draft")
                  and (prefix is None or any(_in_category(c, prefix) for c in a.categories))]
        return KcsReport(
            period=period, category=prefix, totals=total.stats(prefix or "all", self.titles, top),
            categories=tuple(stats), content_gaps=tuple(gaps),
            zero_result_queries=tuple(q for q in zero if q.category is None)[:20],
            unused_articles=tuple(_ref(a) for a in sorted(listed, key=lambda a: a.id) if a.id not in used),
            review_overdue=tuple(_ref(a) for a in sorted(listed, key=lambda a: (a.review_due or self.today, a.id))
                                 if a.review_due is not None and a.review_due < self.today),
            open_flags=tuple(self.open_flags(prefix)))

    def open_flags(self, prefix: str | None = None) -> list[OpenFlag]:
        """Flags nobody has dealt with yet, oldest first."""
        with self.db.session() as session:
            rows = session.execute(select(Flag).where(Flag.status == "open").order_by(Flag.created_at, Flag.id)
                                   ).scalars().all()
        categories = {a.id: a.categories for a in self.articles}
        flags = []
        for row in rows:
            current = self._current(row.article_id)
            if prefix is not None and not any(_in_category(c, prefix) for c in categories.get(current, ())):
                continue
            flags.append(OpenFlag(row.id, current, self.titles.get(current, current), row.reason, row.user,
                                  row.created_at))
        return flags


def _filter_category(filters: str) -> str | None:
    try:
        data = json.loads(filters or "{}")
    except ValueError:
        return None
    values = data.get("category") if isinstance(data, dict) else None
    return str(values[0]) if isinstance(values, list) and values else None


def _ref(a: ArticleLike) -> ArticleRef:
    return ArticleRef(a.id, a.title, a.owner, a.state, a.review_due, tuple(a.categories))


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return " ".join(str(_cell(x)) for x in dataclasses.astuple(value))
    if isinstance(value, tuple | list):
        return "; ".join(str(_cell(v)) for v in value)
    return "" if value is None else value


# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...), +cmd|...).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, made plain text with a leading `'` (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Sequence[Any]) -> str:
    """CSV of a list of report dataclasses: one column per field, nested lists joined by `; `.

    Text from notes, names, queries and titles goes into spreadsheets: cells that would start a
    formula are neutralised (numbers stay numbers).
    """
    out = io.StringIO()
    if not rows:
        return ""
    names = [f.name for f in dataclasses.fields(rows[0])]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([neutralise_formula(_cell(getattr(row, n))) for n in names])
    return out.getvalue()


def to_json(value: Any) -> Any:
    """A report as JSON-ready data (dates as ISO 8601)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
