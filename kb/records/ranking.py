"""Resolution counts, decayed with age, as a search boost per article id.

The search layer reads `boosts.json` in the index folder ({"article-id": multiplier}) and
picks a new file up on its next query, so ranking follows the records without a rebuild.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from pathlib import Path

from sqlalchemy import func, select

from kb.files import write_json
from kb.records.articles import Resolver
from kb.records.db import Database
from kb.records.models import Resolution, SearchLogEntry

HALF_LIFE_DAYS = 90.0
STRENGTH = 0.25  # boost = 1 + STRENGTH * log2(1 + decayed count): 1 ticket ~1.25, 15 tickets ~2.0
MAX_BOOST = 3.0  # the search layer caps multipliers at 3 as well
RELATION_WEIGHT = {"resolved": 1.0, "created_from": 1.0, "referenced": 0.5}


def decayed_counts(db: Database, resolve: Resolver, now: dt.datetime,
                   half_life_days: float = HALF_LIFE_DAYS) -> dict[str, float]:
    """Per current article id: resolutions weighted by relation, each halved every `half_life_days`.

    Rows are counted per article, relation and day in the database, so the work grows with
    articles x days in use, not with the number of records.
    """
    totals: dict[str, float] = defaultdict(float)
    day = func.date(Resolution.created_at)
    stmt = (select(Resolution.article_id, Resolution.relation, day, func.count())
            .group_by(Resolution.article_id, Resolution.relation, day))
    with db.session() as session:
        for article_id, relation, when, count in session.execute(stmt):
            current = resolve(article_id)
            if current is None:  # the article is gone: its records stay, it just ranks nothing
                continue
            noon = dt.datetime.combine(_as_date(when), dt.time(12), tzinfo=dt.UTC)
            age_days = max(0.0, (now - noon).total_seconds() / 86400)
            totals[current] += count * RELATION_WEIGHT.get(relation, 1.0) * 0.5 ** (age_days / half_life_days)
    return dict(totals)


def _as_date(value: object) -> dt.date:
    # SQLite's date() gives text, PostgreSQL's a date.
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def resolution_boosts(db: Database, resolve: Resolver, now: dt.datetime,
                      half_life_days: float = HALF_LIFE_DAYS) -> dict[str, float]:
    """Search score multiplier per article id (only articles with records; others stay at 1)."""
    return {article_id: round(min(MAX_BOOST, 1.0 + STRENGTH * math.log2(1.0 + count)), 4)
            for article_id, count in sorted(decayed_counts(db, resolve, now, half_life_days).items())
            if count > 0}


def user_words(db: Database, resolve: Resolver, per_article: int = 500) -> dict[str, list[str]]:
    """Per current article id, oldest first: subjects of tickets it resolved and queries that ended
    on it with a click (the search layer ranks by them at a low weight: search/user_words.py)."""
    found: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    with db.session() as session:
        for article_id, subject, when in session.execute(
                select(Resolution.article_id, Resolution.subject, Resolution.created_at)
                .where(Resolution.subject != "")):
            current = resolve(article_id)
            if current is not None:
                found[current].append((when, subject))
        for clicked, query, searched in session.execute(
                select(SearchLogEntry.clicked_article_id, SearchLogEntry.query, SearchLogEntry.created_at)
                .where(SearchLogEntry.clicked_article_id.is_not(None), SearchLogEntry.query != "")):
            target = resolve(str(clicked))
            if target is not None:
                found[target].append((searched, query))
    return {a: [text for _when, text in sorted(items)[-per_article:]] for a, items in sorted(found.items())}


def write_boosts(path: Path, boosts: dict[str, float] | dict[str, list[str]]) -> None:
    """Write boosts.json (or user_words.json) atomically, so a reader never sees half a file."""
    write_json(path, dict(sorted(boosts.items())), indent=0)
