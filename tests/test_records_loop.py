"""The knowledge loop through the site and the API: searches, clicks, feedback, flags, tickets, reports."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.records.db import Database
from kb.records.models import Feedback, Flag, Resolution, SearchLogEntry
from tests.test_records_web import (  # noqa: F401  (fixtures used by name)
    AUTH,
    _close_databases,
    app,
    client,
    count,
    database_url,
    make_app,
    post,
)
from web import records

pytest_plugins = ("tests.test_web_fixtures",)


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
