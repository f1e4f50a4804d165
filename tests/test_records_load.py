"""Load: 8 processes x 200 posts with duplicates through gunicorn; the database holds exactly the distinct
records and every 2xx answer, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import pytest

from bench.load_resolutions import load_test, plan
from kb.config import Settings
from tests import test_records_fixtures as fx

pytest_plugins = ("tests.test_web_fixtures",)

database_url = fx.database_url
GUNICORN = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")


def test_the_plan_has_duplicates_within_and_across_processes() -> None:
    shares = plan(8, 200, [("a", "network"), ("b", "email")])
    keys = [post.key for share in shares for post in share]
    assert len(keys) == 1600 and len(set(keys)) == 800
    assert all(len({p.key for p in share}) < 200 for share in shares)


@pytest.mark.skipif(GUNICORN is None, reason="gunicorn is not installed")
def test_concurrent_posts_with_duplicates_store_each_record_exactly_once(built_kb: Settings,
                                                                        database_url: str) -> None:
    result = load_test(dataclasses.replace(built_kb, database_url=database_url), processes=8, posts=200, workers=4)
    print(result.summary())
    assert result.errors == []
    assert dict(result.statuses) == {201: 800, 200: 800}
    assert (result.posted, result.distinct_posted, result.stored, result.created_answers) == (1600, 800, 800, 800)
    assert result.missing_2xx == [] and result.unexpected == []


@pytest.mark.skipif(GUNICORN is None, reason="gunicorn is not installed")
def test_workers_racing_to_create_the_schema_lose_nothing(built_kb: Settings, database_url: str) -> None:
    result = load_test(dataclasses.replace(built_kb, database_url=database_url), processes=8, posts=20, workers=4,
                       migrate_first=False)
    assert result.errors == [] and result.ok, result.summary()
    assert result.stored == result.distinct_posted == 80
