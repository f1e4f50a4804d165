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
import random
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from kb.records import kcs as kcs_measures
from kb.records.articles import ArticleIds, ArticleLike, Resolver
from kb.records.db import Database
from kb.records.models import (
    ClosedTicket,
    Feedback,
    Flag,
    LinkReview,
    OnboardingProgress,
    Resolution,
    SearchLogEntry,
)

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
class HelpfulArticle:
    """"Was this helpful?" answers for one article."""

    article_id: str
    title: str
    yes: int
    no: int
    helpful_rate: float | None
    comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class SampledLink:
    """One linked ticket drawn for a Process Alignment Review, with the coach's mark if any."""

    resolution_id: int
    ticket_system: str
    ticket_id: str
    article_id: str
    title: str
    relation: str
    category: str
    user: str
    when: dt.datetime
    note: str
    correct: bool | None = None
    reviewer: str = ""


@dataclass(frozen=True)
class NewcomerProgress:
    """One person's progress on one onboarding path, and how soon they solved a first ticket."""

    user: str
    path_id: str
    done: int
    steps: int
    started: dt.datetime
    last_step: dt.datetime
    first_resolution: dt.datetime | None
    days_to_first_resolution: float | None


@dataclass(frozen=True)
class ReviewItem:
    """An article in the review queue: reuse x time since review x (1 + open flags), most demand first."""

    article_id: str
    title: str
    owner: str
    reuse: int
    days_since_review: int
    open_flags: int
    demand: float
    review_due: dt.date | None = None


@dataclass(frozen=True)
class KcsReport:
    """The KCS health of a period: the KCS v6 measures (whole period, per category, per week or
    month), gaps, unused and stale articles, the review queue, flags."""

    period: Period
    category: str | None
    # the KCS measures of the period (see kb/records/kcs_measures.py), also `kb stats --json`'s top-level keys
    link_rate: float | None
    link_rate_band: kcs_measures.LinkRateBand
    reuse: int
    create: int
    new_vs_known: kcs_measures.NewVsKnown
    participation: float | None
    link_accuracy: float | None
    helpful_rate: float | None
    zero_result_searches: int
    searches: int
    measures: kcs_measures.Measures
    measures_by_category: tuple[kcs_measures.MeasureRow, ...]
    trend_unit: str
    trend: tuple[kcs_measures.MeasureRow, ...]
    totals: CategoryStats
    categories: tuple[CategoryStats, ...]
    content_gaps: tuple[ContentGap, ...]
    zero_result_queries: tuple[QueryCount, ...]
    unused_articles: tuple[ArticleRef, ...]
    review_overdue: tuple[ArticleRef, ...]
    review_queue: tuple[ReviewItem, ...]
    helpful_articles: tuple[HelpfulArticle, ...]
    top_searches: tuple[kcs_measures.QueryUse, ...]
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
                 resolve: Resolver | None = None, births: Mapping[str, dt.datetime] | None = None,
                 onboarding: Collection[str] = (), fold_ticket_case: bool = True) -> None:
        """`resolve` maps an id or alias to the current id (built from `articles` when not given);
        `births` gives each article's first commit (new versus known); `onboarding` names the
        articles of onboarding paths (never "unused"); `fold_ticket_case`: KB_TICKET_ID_CASE."""
        self.db = db
        self.articles = articles
        self.resolve = resolve or ArticleIds.from_articles(articles).resolve
        self.today = today or dt.date.today()
        self.births = dict(births or {})
        self.onboarding = frozenset(onboarding)
        self.fold_ticket_case = fold_ticket_case

    def _key(self, system: str, ticket: str) -> tuple[str, str]:
        return system, ticket.lower() if self.fold_ticket_case else ticket

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
            key = self._key(r.system, r.ticket)
            for tally in (tallies[r.category], total):
                tally.tickets.add(key)
                tally.linked.add(key)
                if r.relation in NEW_RELATIONS:
                    tally.new.add(key)
                tally.solution_tickets[r.article].add(key)
        for system, ticket, category in self._closed(period):
            if _in_category(category, prefix):
                tallies[category].tickets.add(self._key(system, ticket))
                total.tickets.add(self._key(system, ticket))
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
            gap_min_tickets: int = GAP_MIN_TICKETS, gap_max_link_rate: float = GAP_MAX_LINK_RATE,
            trend_unit: str | None = None) -> KcsReport:
        """The KCS measures (with a trend by `trend_unit`, week or month, when asked), content gaps,
        unused articles, review overdue, the review queue and open flags."""
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
        now = dt.datetime.now(dt.UTC) if period.until is None else period.until
        facts = self.facts(period)
        span = facts.within(prefix)
        figures = kcs_measures.measure(span)
        flags = self.open_flags(prefix)
        return KcsReport(
            period=period, category=prefix, link_rate=figures.link_rate, link_rate_band=figures.link_rate_band,
            reuse=figures.reuse, create=figures.create, new_vs_known=figures.new_vs_known,
            participation=figures.participation, link_accuracy=figures.link_accuracy,
            helpful_rate=figures.helpful_rate, zero_result_searches=figures.zero_result_searches,
            searches=figures.searches, measures=figures,
            measures_by_category=tuple(kcs_measures.by_category(span, [c for s in stats for c in [s.category]]
                                                       + [q.category for q in zero if q.category]
                                                       + [c for a in span.answers for c in a.categories])),
            trend_unit=trend_unit or "",
            trend=tuple(kcs_measures.trend(facts.within(prefix), trend_unit, period.since, now)) if trend_unit else (),
            totals=total.stats(prefix or "all", self.titles, top),
            categories=tuple(stats), content_gaps=tuple(gaps),
            zero_result_queries=tuple(q for q in zero if q.category is None)[:20],
            # Before any ticket is recorded every article is "unused", which says nothing: none then.
            unused_articles=tuple(_ref(a) for a in sorted(listed, key=lambda a: a.id)
                                  if total.tickets and a.id not in used and not self._exempt_from_unused(a, period)),
            review_overdue=tuple(_ref(a) for a in sorted(listed, key=lambda a: (a.review_due or self.today, a.id))
                                 if a.review_due is not None and a.review_due < self.today),
            review_queue=tuple(self.review_queue(listed, tallies, flags)),
            helpful_articles=tuple(self.helpful_articles(span)),
            top_searches=tuple(kcs_measures.top_queries(span)),
            open_flags=tuple(flags))

    def _exempt_from_unused(self, article: ArticleLike, period: Period) -> bool:
        """Onboarding reading is not for tickets; an article younger than the period had no fair chance."""
        if getattr(article, "type", "") == "onboarding" or article.id in self.onboarding:
            return True
        born = self.births.get(article.id)
        return period.since is not None and born is not None and born > period.since

    def review_queue(self, listed: Sequence[ArticleLike], tallies: Mapping[str, _Tally],
                     flags: Sequence[OpenFlag], limit: int = 50) -> list[ReviewItem]:
        """"Reuse is review": articles by reuse x days since review x (1 + open flags), most demand first."""
        reuse: Counter[str] = Counter()
        for tally in tallies.values():
            for article_id, tickets in tally.solution_tickets.items():
                reuse[article_id] += len(tickets - tally.new)
        flagged = Counter(f.article_id for f in flags)
        items = []
        for a in listed:
            reviewed = getattr(a, "reviewed", None)
            born = self.births.get(a.id)
            since = reviewed if isinstance(reviewed, dt.date) else born.date() if born else None
            days = max(1, (self.today - since).days) if since else 365
            uses = reuse[a.id] or (1 if flagged[a.id] else 0)
            if not uses:
                continue
            demand = float(uses * days * (1 + flagged[a.id]))
            items.append(ReviewItem(a.id, a.title, a.owner, reuse[a.id], days, flagged[a.id], demand, a.review_due))
        return sorted(items, key=lambda i: (-i.demand, i.article_id))[:limit]

    def helpful_articles(self, facts: kcs_measures.Facts, limit: int = 50) -> list[HelpfulArticle]:
        """Articles with "Was this helpful?" answers, least helpful first (they need work)."""
        answers: dict[str, list[kcs_measures.Answer]] = defaultdict(list)
        for answer in facts.answers:
            answers[answer.article].append(answer)
        rows = []
        for article_id, given in answers.items():
            yes = sum(a.helpful for a in given)
            rows.append(HelpfulArticle(article_id, self.titles.get(article_id, article_id), yes, len(given) - yes,
                                       round(yes / len(given), 4)))
        return sorted(rows, key=lambda r: (r.helpful_rate or 0.0, -(r.yes + r.no), r.article_id))[:limit]

    def onboarding_progress(self, paths: Mapping[str, Sequence[str]]) -> list[NewcomerProgress]:
        """Per person and path (steps by path id): steps done, when, and the time to a first resolution."""
        with self.db.session() as session:
            steps = session.execute(select(OnboardingProgress.user, OnboardingProgress.path_id,
                                           OnboardingProgress.article_id, OnboardingProgress.done_at)).all()
            firsts = dict(session.execute(select(Resolution.user, func.min(Resolution.created_at))
                                          .where(Resolution.user.in_(sorted({r[0] for r in steps})))
                                          .group_by(Resolution.user)).all())
        grouped: dict[tuple[str, str], list[tuple[str, dt.datetime]]] = defaultdict(list)
        for user, path_id, article_id, when in steps:
            if path_id in paths:
                grouped[(user, path_id)].append((self._current(article_id), when))
        rows = []
        for (user, path_id), done in grouped.items():
            wanted = {self._current(s) for s in paths[path_id]}
            counted = [(a, w) for a, w in done if a in wanted]
            if not counted:
                continue
            started = min(w for _a, w in counted)
            first = firsts.get(user)
            first = first if first is None or first.tzinfo else first.replace(tzinfo=dt.UTC)
            rows.append(NewcomerProgress(
                user, path_id, len({a for a, _w in counted}), len(wanted), started, max(w for _a, w in counted), first,
                round((first - started).total_seconds() / 86400, 1) if first is not None else None))
        return sorted(rows, key=lambda r: (r.user.casefold(), r.path_id))

    def link_sample(self, period: Period, size: int, seed: int) -> list[SampledLink]:
        """`size` links of the period drawn at random (the same `seed` draws the same ones), newest first."""
        with self.db.session() as session:
            ids = sorted(session.execute(select(Resolution.id).where(*_within(Resolution.created_at, period)))
                         .scalars())
            chosen = random.Random(seed).sample(ids, min(size, len(ids)))
            rows = session.execute(
                select(Resolution, LinkReview.correct, LinkReview.reviewer)
                .outerjoin(LinkReview, LinkReview.resolution_id == Resolution.id)
                .where(Resolution.id.in_(chosen))).all()
        links = [SampledLink(r.id, r.ticket_system, r.ticket_id, self._current(r.article_id),
                             self.titles.get(self._current(r.article_id), r.article_id), r.relation, r.category,
                             r.user, r.created_at, r.note, None if ok is None else bool(ok), reviewer or "")
                 for r, ok, reviewer in rows]
        return sorted(links, key=lambda x: (x.when, x.resolution_id), reverse=True)

    def facts(self, period: Period = Period()) -> kcs_measures.Facts:
        """Every fact the KCS measures read, for one period, with ids resolved to current articles."""
        categories = {a.id: tuple(a.categories) for a in self.articles}
        with self.db.session() as session:
            links = [kcs_measures.Link(i, s, t, self._current(a), r, c, u, w, o)
                     for i, s, t, a, r, c, u, w, o in session.execute(select(
                         Resolution.id, Resolution.ticket_system, Resolution.ticket_id, Resolution.article_id,
                         Resolution.relation, Resolution.category, Resolution.user, Resolution.created_at,
                         Resolution.ticket_opened).where(*_within(Resolution.created_at, period)))]
            closed = [kcs_measures.Closed(s, t, c, u, w) for s, t, c, u, w in session.execute(
                select(ClosedTicket.ticket_system, ClosedTicket.ticket_id, ClosedTicket.category, ClosedTicket.user,
                       ClosedTicket.closed_at).where(*_within(ClosedTicket.closed_at, period)))]
            answers = []
            for a, h, u, w in session.execute(select(Feedback.article_id, Feedback.helpful, Feedback.user,
                                                     Feedback.created_at).where(*_within(Feedback.created_at, period))):
                current = self._current(a)
                answers.append(kcs_measures.Answer(current, bool(h), u, w, categories.get(current, ())))
            marks = [kcs_measures.Mark(i, bool(ok), c, w) for i, ok, c, w in session.execute(
                select(LinkReview.resolution_id, LinkReview.correct, Resolution.category, Resolution.created_at)
                .join(Resolution, Resolution.id == LinkReview.resolution_id)
                .where(*_within(Resolution.created_at, period)))]
            searches = [kcs_measures.Search(q, _filter_category(f), n, u, w, c and self._current(c), src)
                        for q, f, n, u, w, c, src in session.execute(
                select(SearchLogEntry.query, SearchLogEntry.filters, SearchLogEntry.result_count, SearchLogEntry.user,
                       SearchLogEntry.created_at, SearchLogEntry.clicked_article_id, SearchLogEntry.source)
                .where(*_within(SearchLogEntry.created_at, period)))]
            flags = []
            for a, u, w in session.execute(select(Flag.article_id, Flag.user, Flag.created_at)
                                           .where(*_within(Flag.created_at, period))):
                current = self._current(a)
                flags.append(kcs_measures.FlagFact(current, u, w, categories.get(current, ())))
        return kcs_measures.Facts(links, closed, answers, marks, searches, flags, self.births, self.fold_ticket_case)

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
