"""The KCS v6 measures over plain facts: link rate (and its 60-80% band), reuse versus create,
new versus known, participation, link accuracy, helpful rate and zero-result searches.

`Reports` (kb/records/reports.py) reads the facts of a period from the database once; the
measures of the whole period, of each category and of each week or month of a trend are all
computed here from those facts, so the three can never disagree.

Definitions (Consortium for Service Innovation, KCS v6 Practices Guide and Measurement Matters):
- link rate: tickets closed with an article linked, out of all tickets closed; the guide names
  60-80% as the healthy band for a mature team (`LINK_RATE_BAND`).
- reuse: linked tickets an existing article solved; create: tickets an article was written from.
- new versus known: a linked ticket is *known* when an article it was linked to existed before
  the ticket was opened (the article's birth is its first commit; the ticket's opening is
  `ticket_opened`, else the time it was recorded); otherwise, or when an article was written
  from it, it is *new*. `undated` counts known/new tickets decided without `ticket_opened`.
- participation: the share of people seen in the period (on tickets, searching, giving
  feedback or flags) who did something to the knowledge base (linked, flagged, rated).
- link accuracy: of the links a coach marked in a Process Alignment Review, the share marked right.
- helpful rate: "Was this helpful?" answers that said yes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

LINK_RATE_BAND = (0.6, 0.8)
CREATE_RELATIONS = frozenset({"created_from"})
TREND_UNITS = ("week", "month")
MAX_BUCKETS = 120


def in_category(category: str | None, prefix: str | None) -> bool:
    """True when `category` is `prefix` or below it (everything matches no prefix)."""
    if prefix is None:
        return True
    return category is not None and (category == prefix or category.startswith(prefix + "/"))


@dataclass(frozen=True)
class Link:
    """One resolution: a ticket linked to an article."""

    id: int
    system: str
    ticket: str
    article: str
    relation: str
    category: str
    user: str
    when: dt.datetime
    opened: dt.datetime | None = None


@dataclass(frozen=True)
class Closed:
    """A ticket closed without an article."""

    system: str
    ticket: str
    category: str
    user: str
    when: dt.datetime


@dataclass(frozen=True)
class Answer:
    """A "Was this helpful?" answer."""

    article: str
    helpful: bool
    user: str
    when: dt.datetime
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mark:
    """A coach's mark on one link (Process Alignment Review)."""

    link_id: int
    correct: bool
    category: str
    link_when: dt.datetime


@dataclass(frozen=True)
class Search:
    query: str
    category: str | None
    results: int
    user: str
    when: dt.datetime
    clicked: str | None = None  # the article a result link led to
    source: str = "web"


@dataclass(frozen=True)
class FlagFact:
    article: str
    user: str
    when: dt.datetime
    categories: tuple[str, ...] = ()


@dataclass
class Facts:
    """Everything the measures read, for one span of time."""

    links: list[Link] = field(default_factory=list)
    closed: list[Closed] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    searches: list[Search] = field(default_factory=list)
    flags: list[FlagFact] = field(default_factory=list)
    births: Mapping[str, dt.datetime] = field(default_factory=dict)  # article id -> first commit
    fold_case: bool = True  # KB_TICKET_ID_CASE=insensitive

    def ticket_key(self, system: str, ticket: str) -> tuple[str, str]:
        return system, ticket.lower() if self.fold_case else ticket

    def between(self, since: dt.datetime | None, until: dt.datetime | None) -> Facts:
        """The facts of [since, until)."""
        def ok(when: dt.datetime) -> bool:
            return (since is None or when >= since) and (until is None or when < until)

        return dataclasses.replace(
            self, links=[x for x in self.links if ok(x.when)], closed=[x for x in self.closed if ok(x.when)],
            answers=[x for x in self.answers if ok(x.when)], marks=[x for x in self.marks if ok(x.link_when)],
            searches=[x for x in self.searches if ok(x.when)], flags=[x for x in self.flags if ok(x.when)])

    def within(self, prefix: str | None) -> Facts:
        """The facts of one category and those below it."""
        if prefix is None:
            return self

        def any_in(categories: Iterable[str]) -> bool:
            return any(in_category(c, prefix) for c in categories)

        return dataclasses.replace(
            self, links=[x for x in self.links if in_category(x.category, prefix)],
            closed=[x for x in self.closed if in_category(x.category, prefix)],
            answers=[x for x in self.answers if any_in(x.categories)],
            marks=[x for x in self.marks if in_category(x.category, prefix)],
            searches=[x for x in self.searches if in_category(x.category, prefix)],
            flags=[x for x in self.flags if any_in(x.categories)])


@dataclass(frozen=True)
class LinkRateBand:
    """The band the KCS guide names for the link rate, and where this rate sits in it."""

    low: float
    high: float
    status: str | None  # "below", "within", "above", or None without tickets


@dataclass(frozen=True)
class NewVsKnown:
    known: int
    new: int
    undated: int = 0  # decided from the recording time: the ticket's opening was not given


@dataclass(frozen=True)
class Measures:
    """The KCS measures of one span (and category)."""

    tickets: int
    linked: int
    link_rate: float | None
    link_rate_band: LinkRateBand
    reuse: int
    create: int
    new_vs_known: NewVsKnown
    people: int
    participants: int
    participation: float | None
    links_reviewed: int
    link_accuracy: float | None
    feedback: int
    helpful_rate: float | None
    searches: int
    zero_result_searches: int
    clicked_searches: int = 0
    click_rate: float | None = None  # searches that ended on an article, of those that found any


@dataclass(frozen=True)
class MeasureRow:
    """The measures flat, one row per category or per week/month (tables, CSV, charts)."""

    key: str  # the category, or the period's label (2026-W45, 2026-11)
    since: dt.date | None
    tickets: int
    linked: int
    link_rate: float | None
    reuse: int
    create: int
    known: int
    new: int
    participation: float | None
    link_accuracy: float | None
    helpful_rate: float | None
    searches: int
    zero_result_searches: int

    @classmethod
    def of(cls, key: str, since: dt.date | None, m: Measures) -> MeasureRow:
        return cls(key, since, m.tickets, m.linked, m.link_rate, m.reuse, m.create, m.new_vs_known.known,
                   m.new_vs_known.new, m.participation, m.link_accuracy, m.helpful_rate, m.searches,
                   m.zero_result_searches)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def band(rate: float | None) -> LinkRateBand:
    low, high = LINK_RATE_BAND
    status = None if rate is None else "below" if rate < low else "above" if rate > high else "within"
    return LinkRateBand(low, high, status)


def measure(facts: Facts) -> Measures:
    """The KCS measures of a set of facts."""
    key = facts.ticket_key
    links_by_ticket: dict[tuple[str, str], list[Link]] = {}
    for link in facts.links:
        links_by_ticket.setdefault(key(link.system, link.ticket), []).append(link)
    tickets = set(links_by_ticket) | {key(c.system, c.ticket) for c in facts.closed}
    create = {k for k, links in links_by_ticket.items() if any(x.relation in CREATE_RELATIONS for x in links)}
    known = undated = 0
    for k, links in links_by_ticket.items():
        dated = [x.opened for x in links if x.opened is not None]
        if k in create:
            undated += not dated
            continue
        opened = min(dated) if dated else min(x.when for x in links)
        undated += not dated
        # An article without a known birth (no git history) existed, as far as anyone can tell.
        if any(facts.births.get(x.article) is None or facts.births[x.article] < opened for x in links):
            known += 1
    linked = len(links_by_ticket)
    people = ({x.user for x in facts.links} | {x.user for x in facts.closed} | {x.user for x in facts.answers}
              | {x.user for x in facts.flags} | {x.user for x in facts.searches}) - {""}
    active = ({x.user for x in facts.links} | {x.user for x in facts.answers} | {x.user for x in facts.flags}) - {""}
    rate = _rate(linked, len(tickets))
    return Measures(
        tickets=len(tickets), linked=linked, link_rate=rate, link_rate_band=band(rate),
        reuse=linked - len(create), create=len(create),
        new_vs_known=NewVsKnown(known=known, new=linked - known, undated=undated),
        people=len(people), participants=len(active), participation=_rate(len(active), len(people)),
        links_reviewed=len(facts.marks), link_accuracy=_rate(sum(m.correct for m in facts.marks), len(facts.marks)),
        feedback=len(facts.answers), helpful_rate=_rate(sum(a.helpful for a in facts.answers), len(facts.answers)),
        searches=len(facts.searches), zero_result_searches=sum(1 for s in facts.searches if s.results == 0),
        clicked_searches=sum(1 for s in facts.searches if s.clicked),
        click_rate=_rate(sum(1 for s in facts.searches if s.clicked), sum(1 for s in facts.searches if s.results)))


@dataclass(frozen=True)
class QueryUse:
    """One query (case and spacing folded): how often, how many found nothing, where clicks went."""

    query: str
    searches: int
    zero_results: int
    clicks: int
    top_article: str | None
    sources: tuple[str, ...] = ()


def top_queries(facts: Facts, limit: int = 50) -> list[QueryUse]:
    """The most frequent queries of the period, with their clicks (from the site, the API and suggest)."""
    grouped: dict[str, list[Search]] = {}
    for s in facts.searches:
        text = " ".join(s.query.casefold().split())
        if text:
            grouped.setdefault(text, []).append(s)
    rows = []
    for text, items in grouped.items():
        clicked = [s.clicked for s in items if s.clicked]
        top = max(sorted(set(clicked)), key=clicked.count) if clicked else None
        rows.append(QueryUse(text, len(items), sum(1 for s in items if s.results == 0), len(clicked), top,
                             tuple(sorted({s.source for s in items}))))
    return sorted(rows, key=lambda r: (-r.searches, -r.clicks, r.query))[:limit]


def by_category(facts: Facts, categories: Iterable[str]) -> list[MeasureRow]:
    """One row per category (each counts the categories below it), busiest first."""
    rows = [MeasureRow.of(c, None, measure(facts.within(c))) for c in sorted(set(categories))]
    rows = [r for r in rows if r.tickets or r.searches or r.link_accuracy is not None or r.helpful_rate is not None]
    return sorted(rows, key=lambda r: (-r.tickets, -r.searches, r.key))


def _start(when: dt.datetime, unit: str) -> dt.datetime:
    day = when.astimezone(dt.UTC).date()
    first = day - dt.timedelta(days=day.weekday()) if unit == "week" else day.replace(day=1)
    return dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC)


def _next(start: dt.datetime, unit: str) -> dt.datetime:
    if unit == "week":
        return start + dt.timedelta(days=7)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def _label(start: dt.datetime, unit: str) -> str:
    if unit == "week":
        year, week, _ = start.date().isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start.year}-{start.month:02d}"


def trend(facts: Facts, unit: str, since: dt.datetime | None, now: dt.datetime) -> list[MeasureRow]:
    """One row per week or month from `since` (or the first fact) to now, oldest first."""
    if unit not in TREND_UNITS:
        raise ValueError(f"unit must be one of {', '.join(TREND_UNITS)}")
    times: list[Callable[[], Iterable[dt.datetime]]] = [
        lambda: (x.when for x in facts.links), lambda: (x.when for x in facts.closed),
        lambda: (x.when for x in facts.answers), lambda: (x.when for x in facts.searches)]
    first = since or min((w for get in times for w in get()), default=now)
    start = _start(max(first, now - dt.timedelta(days=MAX_BUCKETS * (7 if unit == "week" else 31))), unit)
    rows = []
    while start <= now:
        end = _next(start, unit)
        rows.append(MeasureRow.of(_label(start, unit), start.date(), measure(facts.between(start, end))))
        start = end
    return rows
