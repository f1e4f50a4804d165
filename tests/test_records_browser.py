"""The knowledge loop in real Chromium, as a support engineer and a team lead would try it.

Screenshots of the article's forms and of every report page go to test-artifacts/ (records-*.png).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from kb.config import Settings
from tests import test_web_browser as browser_tests
from web import records
from web.app import create_app

pytest_plugins = ("tests.test_web_fixtures",)
pytestmark = pytest.mark.browser

TOKEN = "browser-token"
browser = browser_tests.browser
shot = browser_tests.shot


@pytest.fixture
def loop_app(built_kb: Settings, tmp_path: Path) -> Iterator[Flask]:
    """A site with its own records database, the proxy user header and ticket links."""
    settings = dataclasses.replace(
        built_kb, database_url=f"sqlite:///{tmp_path / 'records.db'}", user_header="X-Remote-User",
        api_token_hash=hashlib.sha256(TOKEN.encode()).hexdigest(),
        ticket_url_template="https://desk.example.com/tickets/{ticket}")
    app = create_app({"KB_SETTINGS": settings, "TESTING": True})
    yield app
    app.extensions[records.EXTENSION_KEY].dispose()


@pytest.fixture
def site(loop_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, loop_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def new_page(browser: Any, site: str, user: str | None = None, width: int = 1280) -> Any:
    headers = {"X-Remote-User": user} if user else {}
    context = browser.new_context(base_url=site, locale="en-US", viewport={"width": width, "height": 900},
                                  extra_http_headers=headers)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.console_errors = []
    tab.on("console", lambda msg: tab.console_errors.append(msg.text) if msg.type == "error" else None)
    return tab


def in_viewport(page: Any, selector: str) -> bool:
    return bool(page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight; }""", selector))


def test_a_support_engineer_searches_solves_a_ticket_and_rates_the_article(browser: Any, site: str) -> None:
    page = new_page(browser, site, user="ann@corp")
    page.goto("/search?q=vpn+809")
    page.locator(".hit h2 a", has_text="VPN fails with error 809").click()
    page.wait_for_url("**/articles/vpn-error-809?s=*")
    # one click near the top: the ticket id, then the button
    ticket = page.get_by_label("Ticket", exact=True)
    assert in_viewport(page, "#record-ticket")
    ticket.fill("bad id!")
    page.get_by_role("button", name="Solved a ticket with this").click()
    page.wait_for_load_state()
    assert "malformed" in page.locator("#record-error").inner_text()
    assert page.get_by_label("Ticket", exact=True).input_value() == "bad id!"  # the input is kept
    shot(page, "records-article-error", full_page=False)
    page.get_by_label("Ticket", exact=True).fill("SD-2001")
    page.get_by_role("button", name="Solved a ticket with this").click()
    page.wait_for_url("**#record-resolution")
    confirmation = page.locator("#record-resolution .flash")
    assert "Recorded ticket SD-2001" in confirmation.inner_text()
    assert in_viewport(page, "#record-resolution .flash")  # where the user is, not 2,900 px away
    shot(page, "records-article-solved", full_page=False)
    # the same ticket in another letter case is the same ticket
    page.get_by_label("Ticket", exact=True).fill("sd-2001")
    page.get_by_role("button", name="Solved a ticket with this").click()
    page.wait_for_url("**#record-resolution")
    assert "SD-2001 was already recorded" in page.locator("#record-resolution .flash").inner_text()
    # was it helpful? tied to the search
    page.get_by_label("Comment (optional)").fill("Worked on the first try")
    page.get_by_role("button", name="Yes, it helped").click()
    page.wait_for_url("**#feedback")
    assert "Thank you for your feedback." in page.locator("#feedback").inner_text()
    # a flag, shown on the article until someone closes it
    page.locator("details.flag summary").click()
    page.get_by_label("What is wrong?").fill("Step 2 needs admin rights now")
    page.get_by_role("button", name="Send flag").click()
    page.wait_for_url("**#flags")
    assert page.locator(".banner.flagged", has_text="1 open flag").is_visible()
    assert "ann@corp" in page.locator(".open-flags").inner_text()
    shot(page, "records-article-flag")
    page.get_by_role("button", name="Close: fixed or not a problem").click()
    page.wait_for_url("**#flags")
    assert page.locator(".open-flags").count() == 0 and "Flag closed" in page.locator("#flags").inner_text()
    assert [e for e in page.console_errors if "400" not in e] == []  # the bad ticket id answered 400, on purpose


def test_a_team_lead_reads_the_reports_and_reviews_links(browser: Any, site: str, loop_app: Flask) -> None:
    client = loop_app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for n, (article, category) in enumerate([("vpn-error-809", "network/vpn"), ("vpn-error-809", "network/vpn"),
                                              ("outlook-password-prompt", "email/outlook")]):
        body = {"article": article, "ticket_id": f"SD-{1040 + n}", "category": category, "user": "bo",
                "ticket_opened": "2026-11-20T09:00:00+00:00"}
        assert client.post("/api/resolutions", data=json.dumps(body), content_type="application/json",
                           headers=auth).status_code == 201
    client.post("/api/tickets/closed", data=json.dumps({"ticket_id": "SD-1099", "category": "printing"}),
                content_type="application/json", headers=auth)
    client.get("/search?q=zzqx+wifi+qqxz")
    page = new_page(browser, site, user="lead@corp")
    page.goto("/")
    page.locator(".site-nav").get_by_role("link", name="Reports").click()
    page.wait_for_url("**/reports/")
    assert page.locator(".measure", has_text="Link rate").locator("strong").inner_text() == "75%"
    assert page.locator("svg.chart").count() >= 4
    assert "zzqx wifi qqxz" in page.locator("#zero-heading + ul").inner_text()
    shot(page, "records-report-kcs")
    with page.expect_download() as download:
        page.locator("#gaps-heading").get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename == "kcs-gaps.csv"
    page.goto("/reports/?days=90&trend=month")
    shot(page, "records-report-kcs-by-month")
    page.get_by_role("link", name="Categories report").first.click()
    page.wait_for_url("**/reports/categories**")
    shot(page, "records-report-categories")
    page.goto("/reports/articles/vpn-error-809")
    assert page.get_by_role("link", name="SD-1040").get_attribute("href") == "https://desk.example.com/tickets/SD-1040"
    shot(page, "records-report-article")
    page.goto("/reports/link-accuracy?days=30&n=10")
    rows = page.locator("table.link-review tbody tr")
    assert rows.count() == 3
    rows.nth(0).get_by_role("button", name="Right").click()
    page.wait_for_load_state()
    page.locator("table.link-review tbody tr").nth(1).get_by_role("button", name="Wrong").click()
    page.wait_for_load_state()
    assert page.locator(".mark").count() == 2
    shot(page, "records-report-link-accuracy")
    page.goto("/onboarding/basics")
    page.locator("ol.checklist li").first.get_by_role("button", name="Mark as done").click()
    page.wait_for_load_state()
    assert "1/3" in page.locator(".progress").inner_text()
    page.goto("/reports/onboarding")
    assert "lead@corp" in page.locator("table.report").inner_text()
    shot(page, "records-report-onboarding")
    page.goto("/reports/?days=30")
    assert page.locator(".measure", has_text="Link accuracy").locator("strong").inner_text() == "50%"
    page.context.add_cookies([{"name": "kb_lang", "value": "zh", "url": site}])
    page.goto("/reports/?days=30")
    assert page.get_by_role("heading", level=1).inner_text() == "KCS 报表"
    assert page.locator(".measure", has_text="关联准确率").is_visible()
    shot(page, "records-report-kcs-zh")
    assert page.console_errors == []


def test_report_pages_fit_a_phone(browser: Any, site: str) -> None:
    page = new_page(browser, site, width=390)
    for url, name in (("/reports/", "records-phone-kcs"), ("/articles/vpn-error-809", "records-phone-article")):
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
        shot(page, name)
