"""Resolution counts, decayed with age, as a search boost per article id.

The search layer reads `boosts.json` in the index folder ({"article-id": multiplier}) and
picks a new file up on its next query, so ranking follows the records without a rebuild.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from kb.records.articles import Resolver
from kb.records.db import Database
from kb.records.models import Resolution

HALF_LIFE_DAYS = 90.0
STRENGTH = 0.25  # boost = 1 + STRENGTH * log2(1 + decayed count): 1 ticket ~1.25, 15 tickets ~2.0
MAX_BOOST = 3.0  # the search layer caps multipliers at 3 as well
RELATION_WEIGHT = {"resolved": 1.0, "created_from": 1.0, "referenced": 0.5}


def decayed_counts(db: Database, resolve: Resolver, now: dt.datetime,
                   half_life_days: float = HALF_LIFE_DAYS) -> dict[str, float]:
    """Per current article id: resolutions weighted by relation, each halved every `half_life_days`."""
    totals: dict[str, float] = defaultdict(float)
    stmt = select(Resolution.article_id, Resolution.relation, Resolution.created_at)
    with db.session() as session:
        for article_id, relation, created_at in session.execute(stmt):
            current = resolve(article_id)
            if current is None:  # the article is gone: its records stay, it just ranks nothing
                continue
            age_days = max(0.0, (now - created_at).total_seconds() / 86400)
            totals[current] += RELATION_WEIGHT.get(relation, 1.0) * 0.5 ** (age_days / half_life_days)
    return dict(totals)


def resolution_boosts(db: Database, resolve: Resolver, now: dt.datetime,
                      half_life_days: float = HALF_LIFE_DAYS) -> dict[str, float]:
    """Search score multiplier per article id (only articles with records; others stay at 1)."""
    return {article_id: round(min(MAX_BOOST, 1.0 + STRENGTH * math.log2(1.0 + count)), 4)
            for article_id, count in sorted(decayed_counts(db, resolve, now, half_life_days).items())
            if count > 0}


def write_boosts(path: Path, boosts: dict[str, float]) -> None:
    """Write boosts.json atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".boosts-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(boosts, out, ensure_ascii=False, indent=0, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
