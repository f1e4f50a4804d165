"""Reports and ranking boosts on a seeded data set, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from kb.config import Settings
from kb.records.db import Database
from kb.records.ranking import resolution_boosts, write_boosts
from kb.records.reports import Period, Reports, csv_text, to_json
from kb.records.store import RecordStore
from tests import test_records_fixtures as fx

database_url = fx.database_url
database = fx.database
store = fx.store
pytest_plugins = ("tests.test_web_fixtures",)

NOW = fx.NOW
DAY = dt.timedelta(days=1)


@pytest.fixture
def seeded(store: RecordStore) -> Reports:
    """Eight tickets in the last 30 days, one older; searches, a flag."""
    r = store.record_resolution
    r(article="vpn-error-809", ticket_id="INC-0", category="network/vpn", user="carl", when=NOW - 200 * DAY)
    r(article="vpn-error-809", ticket_id="INC-1", category="network/vpn", user="ann", when=NOW - 1 * DAY)
    r(article="vpn-809-old", ticket_id="INC-2", category="network/vpn", user="bob", when=NOW - 2 * DAY)
    r(article="vpn-error-809", ticket_id="INC-3", category="network/vpn", user="ann", relation="created_from",
      when=NOW - 3 * DAY)
    r(article="outlook-password", ticket_id="INC-4", category="email/outlook", user="ann", when=NOW - 4 * DAY)
    for n in (5, 6, 7):
        store.record_closed_without_article(ticket_id=f"INC-{n}", category="email", when=NOW - n * DAY)
    store.record_closed_without_article(ticket_id="INC-8", category="network/vpn", when=NOW - 8 * DAY)
    for query in ("打印机 离线", "打印机  离线", "打印机 离线"):
        store.log_search(query, {"category": ["email"]}, 0)
    store.log_search("Teams 录屏", {}, 0)
    store.log_search("teams 录屏", {}, 0)
    store.log_search("vpn", {}, 5)
    store.flag_article(article="vpn-dns", reason="DNS suffix changed", user="ann")
    return Reports(store.db, fx.ARTICLES, today=NOW.date())


def test_article_usage_counts_tickets_under_every_alias(seeded: Reports) -> None:
    usage = seeded.article_usage("vpn-809-old")
    assert usage.article_id == "vpn-error-809"
    assert (usage.tickets, usage.resolved, usage.created_from) == (4, 3, 1)
    assert usage.last_used == NOW - DAY
    assert [(u.user, u.tickets) for u in usage.users] == [("ann", 2), ("bob", 1), ("carl", 1)]
    assert [t.ticket_id for t in usage.recent] == ["INC-1", "INC-2", "INC-3", "INC-0"]


def test_category_report_has_link_rate_and_top_solutions(seeded: Reports) -> None:
    rows = {s.category: s for s in seeded.categories(Period.last_days(30, NOW))}
    vpn = rows["network/vpn"]
    assert (vpn.tickets, vpn.with_article, vpn.without_article, vpn.link_rate) == (4, 3, 1, 0.75)
    assert (vpn.reuse, vpn.new) == (2, 1)
    assert [(s.article_id, s.tickets) for s in vpn.top_solutions] == [("vpn-error-809", 3)]
    assert (rows["email"].tickets, rows["email"].link_rate) == (3, 0.0)
    assert rows["email/outlook"].link_rate == 1.0


def test_kcs_report_finds_gaps_unused_overdue_and_flags(seeded: Reports) -> None:
    report = seeded.kcs(Period.last_days(30, NOW))
    assert (report.totals.tickets, report.totals.with_article, report.totals.link_rate) == (8, 4, 0.5)
    assert (report.totals.reuse, report.totals.new) == (3, 1)
    [gap] = report.content_gaps
    assert (gap.category, gap.without_article) == ("email", 3)
    assert [(q.query, q.searches) for q in gap.zero_result_queries] == [("打印机 离线", 3)]
    assert [(q.query, q.searches) for q in report.zero_result_queries] == [("teams 录屏", 2)]
    assert [a.article_id for a in report.unused_articles] == ["mail-ndr", "vpn-dns"]
    assert [a.article_id for a in report.review_overdue] == ["vpn-dns"]
    assert [(f.article_id, f.reason) for f in report.open_flags] == [("vpn-dns", "DNS suffix changed")]


def test_kcs_report_for_one_category_branch(seeded: Reports) -> None:
    report = seeded.kcs(Period.last_days(30, NOW), prefix="network")
    assert [s.category for s in report.categories] == ["network/vpn"]
    assert report.totals.tickets == 4
    assert [a.article_id for a in report.unused_articles] == ["vpn-dns"]


def test_period_excludes_older_records(seeded: Reports) -> None:
    assert seeded.article_usage("vpn-error-809", Period.last_days(30, NOW)).tickets == 3
    assert seeded.usage_counts() == {"vpn-error-809": 4, "outlook-password": 1}


def test_reports_export_as_csv_and_json(seeded: Reports) -> None:
    rows = seeded.categories()
    text = csv_text(rows)
    assert text.splitlines()[0].startswith("category,tickets,with_article,without_article,link_rate")
    assert "network/vpn,5,4,1,0.8" in text
    data = to_json(seeded.kcs())
    assert json.dumps(data, ensure_ascii=False)
    assert data["open_flags"][0]["created_at"].startswith("2026-11-01")


def test_boosts_grow_with_recent_use_and_decay_with_age(seeded: Reports, store: RecordStore) -> None:
    boosts = resolution_boosts(store.db, store.resolve, NOW)
    assert set(boosts) == {"vpn-error-809", "outlook-password"}
    assert 1.0 < boosts["outlook-password"] < boosts["vpn-error-809"] <= 3.0
    later = resolution_boosts(store.db, store.resolve, NOW + 365 * DAY)
    assert later["vpn-error-809"] < boosts["vpn-error-809"]


def test_boosts_file_is_what_the_search_layer_reads(seeded: Reports, store: RecordStore, tmp_path: Path) -> None:
    from search.index import _read_usage

    path = tmp_path / "index" / "boosts.json"
    write_boosts(path, resolution_boosts(store.db, store.resolve, NOW))
    usage = _read_usage(path, {0: "vpn-error-809", 1: "mail-ndr", 2: "outlook-password"})
    assert set(usage) == {0, 2} and usage[0] > usage[2] > 1.0


def test_empty_database_gives_empty_reports(database: Database) -> None:
    reports = Reports(database, fx.ARTICLES, today=NOW.date())
    report = reports.kcs()
    assert report.totals.tickets == 0 and report.totals.link_rate is None
    # before any ticket, "unused" would list every article and say nothing
    assert report.content_gaps == () and report.unused_articles == ()
    assert csv_text(reports.categories()) == ""


def test_recorded_resolutions_raise_an_article_in_search_without_a_rebuild(built_kb: Settings, tmp_path: Path,
                                                                         database: Database) -> None:
    import shutil

    from kb.records.articles import ArticleIds
    from search import SearchRequest, SearchService

    index_dir = tmp_path / "index"
    shutil.copytree(built_kb.index_dir, index_dir, symlinks=True)
    service = SearchService(index_dir)

    def score(article_id: str) -> float:
        hits = service.search(SearchRequest("vpn", limit=20)).hits
        return next(h.score for h in hits if h.id == article_id)

    before = score("vpn-error-809")
    store = RecordStore(database, lambda key: key if key == "vpn-error-809" else None, clock=lambda: NOW)
    for n in range(15):
        store.record_resolution(article="vpn-error-809", ticket_id=f"INC-{n}", category="network/vpn")
    boosts = resolution_boosts(database, ArticleIds.from_articles([fx.Article("vpn-error-809")]).resolve, NOW)
    write_boosts(index_dir / "boosts.json", boosts)
    assert score("vpn-error-809") == pytest.approx(before * boosts["vpn-error-809"], rel=1e-3)


def test_deleting_an_article_keeps_its_records(seeded: Reports, store: RecordStore) -> None:
    remaining = [a for a in fx.ARTICLES if a.id != "vpn-error-809"]
    after = Reports(store.db, remaining, today=NOW.date())
    usage = after.article_usage("vpn-error-809")
    assert usage.tickets == 4 and usage.title == "vpn-error-809"
    assert after.categories()[0].top_solutions[0].article_id == "vpn-error-809"
    assert len(store.resolutions()) == 5


def test_kcs_measures_with_births_participation_and_a_trend(seeded: Reports, store: RecordStore) -> None:
    store.record_resolution(article="mail-ndr", ticket_id="INC-9", category="email", user="dee", when=NOW - DAY,
                            ticket_opened=NOW - 2 * DAY)
    store.record_feedback(article="vpn-error-809", helpful=True, user="eve")
    store.record_feedback(article="mail-ndr", helpful=False, user="eve")
    births = {"vpn-error-809": NOW - 100 * DAY, "mail-ndr": NOW - 3 * DAY / 2, "outlook-password": NOW - 10 * DAY,
              "vpn-dns": NOW - 5 * DAY}
    reports = Reports(store.db, fx.ARTICLES, today=NOW.date(), births=births)
    report = reports.kcs(Period.last_days(30, NOW), trend_unit="week")
    # INC-1, INC-2 and INC-4 found an article born before them (no opening time: their recording
    # time counts); INC-3 was written up (create); INC-9 was opened before mail-ndr was born.
    assert (report.new_vs_known.known, report.new_vs_known.new, report.new_vs_known.undated) == (3, 2, 4)
    assert (report.reuse, report.create, report.link_rate) == (4, 1, 0.5556)
    assert report.link_rate_band.status == "below"
    # people: ann, bob, dee, eve and the searchers' empty names left out; all four did something
    assert report.participation == 1.0 and report.helpful_rate == 0.5
    assert report.zero_result_searches == 5 and report.searches == 6
    assert sum(r.tickets for r in report.trend) == report.measures.tickets
    by_category = {r.key: r for r in report.measures_by_category}
    assert by_category["network/vpn"].link_rate == 0.75 and by_category["email"].helpful_rate == 0.0
    # vpn-dns is younger than the period: not "unused"; the queue ranks vpn-error-809 (reused) first
    assert "vpn-dns" not in {a.article_id for a in report.unused_articles}
    assert report.review_queue[0].article_id == "vpn-error-809"
    assert {i.article_id: i.open_flags for i in report.review_queue}.get("vpn-dns") == 1
