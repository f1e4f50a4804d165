"""The knowledge loop through the site and the API: searches, clicks, feedback, flags, tickets, reports."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.config import Settings
from kb.notify import detect_format
from kb.records.db import Database
from kb.records.models import Feedback, Flag, Resolution, SearchLogEntry
from tests import test_records_fixtures as fx
from tests import test_records_web as web_tests
from tests.helpers import Receiver
from tests.test_records_web import count, make_app, post
from web import records

pytest_plugins = ("tests.test_web_fixtures",)

database_url = fx.database_url
_close_databases = web_tests._close_databases
app = web_tests.app
client = web_tests.client


def rows(app: Flask, model: type) -> list[Any]:
    db: Database = app.extensions[records.EXTENSION_KEY]
    with db.session() as session:
        return list(session.execute(select(model).order_by(model.id)).scalars())  # type: ignore[attr-defined]


def csrf(client: FlaskClient, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on " + url
    return found.group(1)


def test_searches_from_the_site_and_the_api_are_logged_with_filters_and_counts(client: FlaskClient,
                                                                               app: Flask) -> None:
    page = client.get("/search?q=printer+jam&category=printing").get_data(as_text=True)
    client.get("/search?q=zzqx+nothing")
    api = client.get("/api/search?q=outlook+password")
    client.get("/api/search?q=outl&as_you_type=1")
    suggest = client.get("/api/suggest?subject=vpn+error+809")
    logged = rows(app, SearchLogEntry)
    assert [(r.query, r.source) for r in logged] == [
        ("printer jam", "web"), ("zzqx nothing", "web"), ("outlook password", "api"), ("vpn error 809", "suggest")]
    assert json.loads(logged[0].filters) == {"category": ["printing"]} and logged[0].result_count > 0
    assert logged[1].result_count == 0
    assert api.headers["X-KB-Search-Id"] == str(logged[2].id) and suggest.headers["X-KB-Search-Id"]
    # result links go through the click route, which lands on the article carrying the search id
    first = re.search(r'href="(/go/\d+/[^"]+)"', page)
    assert first, page
    landed = client.get(first.group(1))
    assert landed.status_code == 303 and f"s={logged[0].id}" in landed.headers["Location"]
    assert rows(app, SearchLogEntry)[0].clicked_article_id is None  # recorded once the redirect has gone out
    landed.close()  # what the WSGI server does after sending it
    clicked = rows(app, SearchLogEntry)[0].clicked_article_id
    assert clicked is not None and clicked.startswith("printer-jam-")


def test_a_later_results_page_is_the_same_search(client: FlaskClient, app: Flask) -> None:
    page = client.get("/search?q=printer").get_data(as_text=True)
    following = re.search(r'href="(/search\?[^"]*page=2[^"]*)"', page)
    assert following and "sid=" in following.group(1)
    client.get(following.group(1).replace("&amp;", "&"))
    assert count(app, SearchLogEntry) == 1


def test_a_suggestion_picked_while_typing_logs_the_settled_query(client: FlaskClient, app: Flask) -> None:
    for typed in ("ou", "outl", "outlook"):
        client.get(f"/api/search?q={typed}&limit=6&as_you_type=1")
    picked = client.get("/go/typed/outlook-password-prompt?q=outlook&n=2", follow_redirects=True)
    assert picked.status_code == 200 and picked.request.path == "/articles/outlook-password-prompt"
    assert picked.request.args["s"]
    [entry] = rows(app, SearchLogEntry)
    assert (entry.query, entry.source, entry.result_count, entry.clicked_article_id) == (
        "outlook", "typed", 2, "outlook-password-prompt")


# -- the article page ------------------------------------------------------------------------------

def test_solved_a_ticket_sits_near_the_top_and_remembers_the_name(client: FlaskClient, app: Flask) -> None:
    page = client.get("/articles/vpn-error-809").get_data(as_text=True)
    assert page.index("Solved a ticket with this") < page.index('class="article-body"')
    token = csrf(client, "/articles/vpn-error-809")
    done = client.post("/articles/vpn-error-809/resolutions", data={
        "csrf_token": token, "ticket_id": "SD-2001", "category": "network/vpn", "name": "Ann Lee"})
    assert done.status_code == 303 and done.headers["Location"].endswith("#record-resolution")
    assert "kb_name=" in done.headers["Set-Cookie"]
    after = client.get("/articles/vpn-error-809").get_data(as_text=True)
    section = after[after.index('id="record-resolution"'):after.index('class="article-body"')]
    assert "Recorded ticket SD-2001" in section  # the confirmation is where the form is
    assert 'value="Ann Lee"' in section
    # the other spelling is the same ticket
    again = client.post("/articles/vpn-error-809/resolutions", data={
        "csrf_token": token, "ticket_id": "sd-2001", "category": "network/vpn", "name": "Ann Lee"},
        follow_redirects=True)
    assert "SD-2001 was already recorded" in again.get_data(as_text=True)
    assert [r.ticket_id for r in rows(app, Resolution)] == ["SD-2001"]


def test_a_bad_ticket_or_a_conflict_answers_on_the_article_with_the_input_kept(client: FlaskClient) -> None:
    token = csrf(client, "/articles/vpn-error-809")
    bad = client.post("/articles/vpn-error-809/resolutions", data={
        "csrf_token": token, "ticket_id": "bad id!", "category": "network/vpn", "note": "kept note"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'role="alert"' in html and "malformed" in html
    assert 'value="bad id!"' in html and 'value="kept note"' in html and "<h1>VPN fails with error 809</h1>" in html
    client.post("/articles/vpn-error-809/resolutions", data={
        "csrf_token": token, "ticket_id": "INC-77", "category": "network/vpn"})
    conflict = client.post("/articles/vpn-error-809/resolutions", data={
        "csrf_token": token, "ticket_id": "inc-77", "category": "email"})
    html = conflict.get_data(as_text=True)
    assert conflict.status_code == 409 and "<h1>VPN fails with error 809</h1>" in html
    assert "already recorded" in html and 'name="category" value="network/vpn"' in html  # one click to fix


def test_english_form_labels_relations_in_words(client: FlaskClient) -> None:
    page = client.get("/articles/vpn-error-809").get_data(as_text=True)
    assert ">Written from this ticket</option>" in page and ">created_from<" not in page


def test_was_this_helpful_is_tied_to_the_search_that_led_there(client: FlaskClient, app: Flask) -> None:
    results = client.get("/search?q=outlook+password").get_data(as_text=True)
    link = re.search(r'href="(/go/\d+/outlook-password-prompt)"', results)
    assert link
    article = client.get(link.group(1), follow_redirects=True)
    html = article.get_data(as_text=True)
    search_id = rows(app, SearchLogEntry)[0].id
    assert "Was this helpful?" in html and f'name="s" value="{search_id}"' in html
    token = csrf(client, "/articles/outlook-password-prompt")
    sent = client.post("/articles/outlook-password-prompt/feedback", data={
        "csrf_token": token, "helpful": "no", "comment": "step 2 is gone", "s": str(search_id)}, follow_redirects=True)
    assert "Thank you for your feedback." in sent.get_data(as_text=True)
    [answer] = rows(app, Feedback)
    assert (answer.article_id, answer.helpful, answer.search_id, answer.comment) == (
        "outlook-password-prompt", False, search_id, "step 2 is gone")
    assert client.post("/articles/outlook-password-prompt/feedback", data={
        "csrf_token": token, "helpful": "maybe"}).status_code == 400


def test_flags_are_named_shown_deduplicated_and_closed_from_the_page(client: FlaskClient, app: Flask) -> None:
    token = csrf(client, "/articles/vpn-error-809")
    form = {"csrf_token": token, "reason": "Step 2 fails on Windows 11 24H2", "name": "Bo"}
    client.post("/articles/vpn-error-809/flag", data=form)
    repeat = client.post("/articles/vpn-error-809/flag", data=form | {"reason": "step 2 fails on windows 11  24h2"},
                         follow_redirects=True)
    assert "already flagged" in repeat.get_data(as_text=True)
    client.post("/articles/vpn-error-809/flag", data=form | {"name": "Cy"})
    flags = rows(app, Flag)
    assert [(f.user, f.status) for f in flags] == [("Bo", "open"), ("Cy", "open")]
    page = client.get("/articles/vpn-error-809").get_data(as_text=True)
    assert "2 open flags" in page and "Step 2 fails on Windows 11 24H2" in page
    closed = client.post(f"/articles/vpn-error-809/flags/{flags[0].id}/close",
                         data={"csrf_token": token, "name": "network-team"}, follow_redirects=True)
    assert "Flag closed" in closed.get_data(as_text=True)
    assert [(f.status, f.done_by) for f in rows(app, Flag)] == [("done", "network-team"), ("open", None)]
    assert client.post(f"/articles/outlook-password-prompt/flags/{flags[1].id}/close",
                       data={"csrf_token": token}).status_code == 404
    empty = client.post("/articles/vpn-error-809/flag", data={"csrf_token": token, "reason": " "})
    assert empty.status_code == 400 and "Say what is wrong" in empty.get_data(as_text=True)


# -- notifications ------------------------------------------------------------------------------------

@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def wait_for_notifications(app: Flask) -> None:
    for thread in app.extensions.pop(records.NOTIFY_THREADS_KEY, []):
        thread.join(timeout=10)


@pytest.mark.parametrize(("fmt", "check"), [
    ("json", lambda b: b["event"] == "flag" and b["data"]["owner"] == "network-team" and b["data"]["user"] == "Bo"),
    ("dingtalk", lambda b: b["msgtype"] == "markdown" and "network-team" in b["markdown"]["title"]),
    ("feishu", lambda b: b["msg_type"] == "text" and "Step 2 fails" in b["content"]["text"]),
    ("wecom", lambda b: b["msgtype"] == "markdown" and "Step 2 fails" in b["markdown"]["content"]),
    ("slack", lambda b: b["text"].startswith("*Flag on") and "Step 2 fails" in b["text"]),
    ("teams", lambda b: b["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
     and "Step 2 fails" in json.dumps(b)),
])
def test_a_new_flag_reaches_the_owner_in_each_robot_format(built_kb: Settings, tmp_path: Path, receiver: Receiver,
                                                           fmt: str, check: Callable[[Any], bool]) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/r.db", notify_webhook=receiver.url, notify_format=fmt,
                   site_url="https://kb.example.com")
    client = app.test_client()
    token = csrf(client, "/articles/vpn-error-809")
    form = {"csrf_token": token, "reason": "Step 2 fails on 24H2", "name": "Bo"}
    page = client.post("/articles/vpn-error-809/flag", data=form, follow_redirects=True).get_data(as_text=True)
    assert "the owner will be told" in page
    client.post("/articles/vpn-error-809/flag", data=form)  # the same flag again: nobody is told twice
    wait_for_notifications(app)
    assert len(receiver.received) == 1 and check(receiver.received[0]), receiver.received
    assert "https://kb.example.com/articles/vpn-error-809#flags" in json.dumps(receiver.received[0])


def test_the_robot_format_follows_the_webhook_host() -> None:
    assert detect_format("https://oapi.dingtalk.com/robot/send?access_token=x") == "dingtalk"
    assert detect_format("https://open.feishu.cn/open-apis/bot/v2/hook/x") == "feishu"
    assert detect_format("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x") == "wecom"
    assert detect_format("https://hooks.slack.com/services/x") == "slack"
    assert detect_format("https://corp.webhook.office.com/webhookb2/x") == "teams"
    assert detect_format("https://chat.example.com/hook") == "json"
    assert detect_format("https://hooks.slack.com/services/x", "json") == "json"


# -- tickets through the API, retention, reports ---------------------------------------------------

def test_api_tickets_compare_case_insensitively_and_carry_opening_and_subject(client: FlaskClient,
                                                                              app: Flask) -> None:
    body = {"article": "vpn-error-809", "ticket_id": "SD-2001", "category": "network/vpn",
            "ticket_opened": "2026-11-30T08:00:00+08:00", "subject": "vpn drops at home"}
    assert post(client, "/api/resolutions", body).status_code == 201
    again = post(client, "/api/resolutions", body | {"ticket_id": "sd-2001"})
    assert again.status_code == 200 and again.json["resolution"]["ticket_id"] == "SD-2001"
    [row] = rows(app, Resolution)
    assert row.subject == "vpn drops at home" and row.ticket_opened.isoformat() == "2026-11-30T00:00:00+00:00"
    bad = post(client, "/api/resolutions", body | {"ticket_id": "SD-3", "ticket_opened": "yesterday"})
    assert bad.status_code == 422 and "ticket_opened" in bad.json["message"]


def test_old_searches_are_deleted_as_new_ones_arrive(built_kb: Settings, tmp_path: Path) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/r.db", search_log_retention_days=30)
    client = app.test_client()
    db: Database = app.extensions[records.EXTENSION_KEY]
    with db.session(write=True) as session:
        session.add(SearchLogEntry(query="old", filters="{}", result_count=1,
                                   created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=31)))
    records._last_purge = None
    client.get("/search?q=printer")
    assert [r.query for r in rows(app, SearchLogEntry)] == ["printer"]


def test_every_report_table_downloads_as_csv_and_json(client: FlaskClient) -> None:
    post(client, "/api/resolutions", {"article": "vpn-error-809", "ticket_id": "SD-1", "category": "network/vpn"})
    client.get("/search?q=zzqx+qqxz")
    for table in records.CSV_TABLES:
        as_json = client.get(f"/reports/?days=30&format=json&table={table}")
        assert as_json.status_code == 200 and isinstance(as_json.json, list), table
        as_csv = client.get(f"/reports/?days=30&format=csv&table={table}")
        assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv", table
    data = client.get("/reports/?days=30&format=json").json
    assert data["zero_result_searches"] == 1 and data["link_rate"] == 1.0
    assert data["trend_unit"] == "week" and data["trend"][-1]["tickets"] == 1
    assert client.get("/reports/?format=json&table=nope").status_code == 400
    assert client.get("/reports/?trend=year").status_code == 400
    monthly = client.get("/reports/?days=365&format=json&table=trend").json
    assert all(len(r["key"]) == 7 for r in monthly)  # 2026-12


def test_unused_leaves_out_onboarding_articles(client: FlaskClient) -> None:
    # a fresh install: no ticket yet, so no article is called unused
    assert client.get("/reports/?days=0&format=json&table=unused").json == []
    post(client, "/api/resolutions", {"article": "vpn-error-809", "ticket_id": "SD-1", "category": "network/vpn"})
    unused = {a["article_id"] for a in client.get("/reports/?days=0&format=json&table=unused").json}
    assert "ticket-lifecycle-zh" not in unused  # type onboarding, and a step of the basics path
    assert "printer-jam-1" in unused


def test_link_review_marks_are_stored_and_reported(client: FlaskClient, app: Flask) -> None:
    for n in range(3):
        post(client, "/api/resolutions", {"article": "vpn-error-809", "ticket_id": f"SD-{n}",
                                          "category": "network/vpn"})
    drawn = client.get("/reports/link-accuracy?days=30&n=2")
    assert drawn.status_code == 303 and "seed=" in drawn.headers["Location"]
    sample = client.get(drawn.headers["Location"] + "&format=json").json["sample"]
    assert len(sample) == 2
    token = csrf(client, drawn.headers["Location"])
    for link, verdict in zip(sample, ("yes", "no"), strict=True):
        marked = client.post(f"/reports/link-accuracy/{link['resolution_id']}",
                             data={"csrf_token": token, "correct": verdict, "name": "coach"})
        assert marked.status_code == 303
    assert client.post(f"/reports/link-accuracy/{sample[0]['resolution_id']}",
                       data={"csrf_token": token, "correct": "yes"}).status_code == 400  # nameless
    data = client.get("/reports/?days=30&format=json").json
    assert data["link_accuracy"] == 0.5 and data["measures"]["links_reviewed"] == 2


def test_onboarding_progress_is_stored_per_known_person(built_kb: Settings, tmp_path: Path) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/r.db", user_header="X-Remote-User")
    client = app.test_client()
    who = {"X-Remote-User": "newbie@corp"}
    page = client.get("/onboarding/basics", headers=who).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = client.post("/onboarding/basics/progress", data={"csrf_token": token, "step": "vpn-error-809"},
                       headers=who)
    assert done.status_code == 303
    assert "1/3" in client.get("/onboarding/basics", headers=who).get_data(as_text=True)
    assert "0/3" in client.get("/onboarding/basics", headers={"X-Remote-User": "other"}).get_data(as_text=True)
    assert client.post("/onboarding/basics/progress", data={"csrf_token": token, "step": "vpn-error-809"}
                       ).status_code == 400  # nobody named: the browser keeps it
    post(client, "/api/resolutions", {"article": "vpn-error-809", "ticket_id": "SD-9", "category": "network/vpn",
                                      "user": "newbie@corp"})
    [row] = client.get("/reports/onboarding?format=json").json["progress"]
    assert (row["user"], row["done"], row["steps"]) == ("newbie@corp", 1, 3)
    assert row["days_to_first_resolution"] is not None and row["days_to_first_resolution"] >= 0


def test_searches_and_clicks_from_the_site_and_the_api_appear_in_the_reports(client: FlaskClient) -> None:
    page = client.get("/search?q=Printer+Jam").get_data(as_text=True)
    client.get("/api/search?q=printer  jam")
    client.get("/api/search?q=zzqx+qqxz")
    link = re.search(r'href="(/go/\d+/printer-jam-\d+)"', page)
    assert link
    client.get(link.group(1), follow_redirects=True)
    top = {q["query"]: q for q in client.get("/reports/?days=1&format=json&table=searches").json}
    assert top["printer jam"]["searches"] == 2 and top["printer jam"]["clicks"] == 1
    assert top["printer jam"]["sources"] == ["api", "web"] and top["printer jam"]["top_article"].startswith("printer")
    assert top["zzqx qqxz"]["zero_results"] == 1
    data = client.get("/reports/?days=1&format=json").json
    assert (data["searches"], data["zero_result_searches"], data["measures"]["clicked_searches"]) == (3, 1, 1)
    assert data["measures"]["click_rate"] == 0.5
    html = client.get("/reports/?days=1").get_data(as_text=True)
    assert "Top searches" in html and "zzqx qqxz" in html
    assert client.get("/reports/?days=1&format=csv&table=searches").get_data(as_text=True).startswith("query,")


def test_a_suggest_that_ends_in_a_resolution_teaches_the_article_its_words(client: FlaskClient, app: Flask) -> None:
    suggested = client.get("/api/suggest?subject=laptop+tunnel+keeps+dropping")
    search_id = int(suggested.headers["X-KB-Search-Id"])
    body = {"article": "vpn-error-809", "ticket_id": "SD-7", "category": "network/vpn", "search_id": search_id}
    assert post(client, "/api/resolutions", body).status_code == 201
    assert rows(app, SearchLogEntry)[0].clicked_article_id == "vpn-error-809"
    assert post(client, "/api/resolutions", body | {"ticket_id": "SD-8", "search_id": "x"}).status_code == 422
    # from the article page: the search carried in `s` ends on the article with the resolution
    page = client.get("/search?q=outlook+prompt").get_data(as_text=True)
    logged = rows(app, SearchLogEntry)[-1]
    assert logged.query == "outlook prompt" and logged.clicked_article_id is None and "/go/" in page
    token = csrf(client, "/articles/outlook-password-prompt")
    client.post("/articles/outlook-password-prompt/resolutions", data={
        "csrf_token": token, "ticket_id": "SD-9", "category": "email/outlook", "s": str(logged.id)})
    assert rows(app, SearchLogEntry)[-1].clicked_article_id == "outlook-password-prompt"
