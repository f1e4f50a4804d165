"""Fault injection, bad input: hostile JSON on every POST route, out-of-range values, broken headers.

Every bad input gets a 4xx with a message (JSON under /api/), never a 5xx, and stores nothing;
on SQLite and PostgreSQL where a database is involved.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kb.config import Settings
from kb.records.db import Database
from kb.records.models import ClosedTicket, Feedback, Flag, PushEvent, Resolution, SearchLogEntry
from tests import test_records_fixtures as fx
from web import records
from web.app import create_app

pytest_plugins = ("tests.test_web_fixtures",)

database_url = fx.database_url
TOKEN = "faults-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOOK_SECRET = "faults-hook-secret-0123"
GOOD = {"article": "vpn-error-809", "ticket_id": "INC-9001", "category": "network/vpn"}
STORED = (Resolution, ClosedTicket, Feedback, Flag, PushEvent, SearchLogEntry)
CREATED: list[Flask] = []


def make_app(settings: Settings, url: str, **overrides: Any) -> Flask:
    values = {"database_url": url, "api_token_hash": hashlib.sha256(TOKEN.encode()).hexdigest(),
              "hook_secret": HOOK_SECRET, **overrides}
    app = create_app({"KB_SETTINGS": dataclasses.replace(settings, **values), "TESTING": True})
    CREATED.append(app)
    return app


@pytest.fixture(autouse=True)
def _close_databases() -> Iterator[None]:
    yield
    while CREATED:
        CREATED.pop().extensions[records.EXTENSION_KEY].dispose()


@pytest.fixture
def app(built_kb: Settings, database_url: str) -> Flask:
    return make_app(built_kb, database_url)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


def stored(app: Flask) -> dict[str, int]:
    db: Database = app.extensions[records.EXTENSION_KEY]
    with db.session() as session:
        return {m.__tablename__: int(session.execute(select(func.count()).select_from(m)).scalar_one())
                for m in STORED}


def signed(body: bytes, delivery: str | None = None) -> dict[str, str]:
    digest = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}
    if delivery:
        headers["X-GitHub-Delivery"] = delivery
    return headers


def post_routes(app: Flask) -> list[str]:
    """Every URL the site takes a POST on, with a real article id where the rule has one."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or ()):
            url = re.sub(r"<int:\w+>", "1", rule.rule)
            urls.append(re.sub(r"<(?:\w+:)?\w+>", "vpn-error-809", url))
    return sorted(urls)


HOSTILE: list[tuple[str, bytes]] = [
    ("nested arrays", b"[" * 15000),
    ("nested objects", b'{"a":' * 15000),
    ("nested in a field", json.dumps({**GOOD, "note": "x"}).replace('"x"', "[" * 5000 + "]" * 5000).encode()),
    ("not utf-8", b'{"article": "\xff\xfe"}'),
    ("a 5000-digit number", b'{"search_id": ' + b"9" * 5000 + b"}"),
    ("NaN and Infinity", b'{"article": NaN, "helpful": Infinity, "ticket_id": -Infinity}'),
    ("an array", b"[1, 2, 3]"),
    ("a string", b'"hello"'),
    ("null", b"null"),
    ("truncated", b'{"article": "vpn-error-809", "ticket_id": '),
    ("wrong types", json.dumps({"article": ["x"], "ticket_id": {"a": 1}, "category": 7, "helpful": "yes",
                                "search_id": True, "when": 12}).encode()),
]


def test_the_suite_reaches_every_post_route(app: Flask) -> None:
    assert set(post_routes(app)) >= {"/api/feedback", "/api/hooks/git", "/api/resolutions", "/api/suggest",
                                     "/api/tickets/closed", "/articles/vpn-error-809/flag",
                                     "/articles/vpn-error-809/resolutions", "/language"}
    assert not any("<" in url for url in post_routes(app))


@pytest.mark.parametrize(("name", "body"), HOSTILE, ids=[name for name, _ in HOSTILE])
def test_hostile_json_on_every_post_route_is_a_4xx_and_stores_nothing(
        client: FlaskClient, app: Flask, name: str, body: bytes) -> None:
    before = stored(app)
    for url in post_routes(app):
        headers = {**AUTH, **(signed(body) if url == "/api/hooks/git" else {})}
        response = client.post(url, data=body, content_type="application/json", headers=headers)
        if url.startswith("/api/"):
            assert 400 <= response.status_code < 500, (url, name, response.status_code, response.get_data())
            assert response.is_json and response.json["message"], (url, name)  # type: ignore[index]
        else:  # a page's form route ignores a JSON body (the language switch just goes back)
            assert response.status_code < 500, (url, name, response.status_code, response.get_data())
    assert stored(app) == before


@pytest.mark.parametrize("url", ["/api/feedback", "/api/suggest", "/api/resolutions", "/api/tickets/closed"])
def test_deep_nesting_answers_400_with_a_json_message(client: FlaskClient, app: Flask, url: str) -> None:
    response = client.post(url, data="[" * 15000, content_type="application/json", headers=AUTH)
    assert response.status_code == 400 and "too deeply" in response.json["message"]  # type: ignore[index]


def test_deep_nesting_on_the_signed_webhook_is_400(client: FlaskClient, app: Flask) -> None:
    body = b"[" * 15000
    response = client.post("/api/hooks/git", data=body, content_type="application/json", headers=signed(body))
    assert response.status_code == 400 and "too deeply" in response.json["message"]  # type: ignore[index]
    assert stored(app)["push_events"] == 0


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+00:00",
                                  "9999-12-31T23:59:59-14:00", "1901-01-01T00:00:00Z"])
def test_a_when_out_of_range_is_422_on_both_databases(client: FlaskClient, app: Flask, when: str) -> None:
    for url, body in (("/api/resolutions", GOOD), ("/api/tickets/closed", {"ticket_id": "INC-9002",
                                                                           "category": "email"})):
        response = client.post(url, json={**body, "when": when}, headers=AUTH)
        assert response.status_code == 422, (url, response.get_data(as_text=True))
    assert stored(app)["resolutions"] == stored(app)["closed_tickets"] == 0


@pytest.mark.parametrize("search_id", [2**70, 2**63, 2**31, -(2**70), 0])
def test_a_search_id_out_of_range_is_422_on_both_databases(client: FlaskClient, app: Flask, search_id: int) -> None:
    response = client.post("/api/feedback", json={"article": "vpn-error-809", "helpful": True, "search_id": search_id})
    assert response.status_code == 422 and "search_id" in response.json["message"]  # type: ignore[index]
    assert stored(app)["feedback"] == 0
    assert client.get(f"/go/{abs(search_id)}/vpn-error-809").status_code in (303, 404)


def test_a_wrong_content_type_on_the_token_api_is_415_not_the_form_message(client: FlaskClient, app: Flask) -> None:
    for url in ("/api/resolutions", "/api/tickets/closed", "/api/feedback", "/api/suggest"):
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            response = client.post(url, data="ticket_id=INC-1", content_type=content_type, headers=AUTH)
            assert response.status_code == 415, (url, content_type, response.get_data(as_text=True))
            assert "application/json" in response.json["message"]  # type: ignore[index]
            assert "form expired" not in response.json["message"]  # type: ignore[index]
    assert sum(stored(app).values()) == 0


def test_a_form_route_still_refuses_a_post_without_its_csrf_token(client: FlaskClient, app: Flask) -> None:
    response = client.post("/articles/vpn-error-809/resolutions", data={"ticket_id": "INC-1", "category": "network"})
    assert response.status_code == 400 and "form expired" in response.get_data(as_text=True)
    assert stored(app)["resolutions"] == 0


@pytest.mark.parametrize("target", ["/x\r\nSet-Cookie: evil=1", "/x\nLocation: //evil.example", "/ok\x00",
                                    "/tab\there"])
def test_a_control_character_in_the_language_switch_target_goes_home(client: FlaskClient, target: str) -> None:
    with client.session_transaction() as session:
        session["csrf"] = "t"
    response = client.post("/language", data={"csrf_token": "t", "lang": "zh", "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert "evil" not in str(response.headers)


@pytest.mark.parametrize("trusted", ["", "kb.example.com"])
@pytest.mark.parametrize("host", ["a" * 64 + ".example.com", "kb..example.com", "kb.example.com:99999x",
                                  "[::zz]", "-kb.example.com", ("b" * 60 + ".") * 5 + "com", "kb.example.com:"])
def test_a_malformed_host_is_400_not_500(built_kb: Settings, tmp_path: Any, trusted: str, host: str) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/r.db", trusted_hosts=trusted)
    with app.test_client() as client:
        page = client.get("/search?q=vpn", headers={"Host": host})
        api = client.get("/api/search?q=vpn", headers={"Host": host})
    assert page.status_code == 400 and "Host" in page.get_data(as_text=True)
    assert api.status_code == 400 and api.json["error"] == "bad request"  # type: ignore[index]
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_trusted_hosts_compare_case_insensitively_and_health_answers_any_host(built_kb: Settings,
                                                                            tmp_path: Any) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/r.db", trusted_hosts="kb.example.com,.support.example")
    with app.test_client() as client:
        assert client.get("/", headers={"Host": "KB.EXAMPLE.COM"}).status_code == 200
        assert client.get("/", headers={"Host": "kb.example.com.:443"}).status_code == 200
        assert client.get("/", headers={"Host": "eu.Support.Example"}).status_code == 200
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/", headers={"Host": "kb.example.com.evil.example"}).status_code == 400
        for path in ("/livez", "/readyz", "/healthz"):
            for host in ("10.0.0.11:8080", "[::1]:8080", "evil.example"):
                assert client.get(path, headers={"Host": host}).status_code == 200, (path, host)


def test_a_replayed_webhook_delivery_is_recorded_once(client: FlaskClient, app: Flask) -> None:
    body = json.dumps({"ref": "refs/heads/main", "after": "a" * 40}).encode()
    answers = [client.post("/api/hooks/git", data=body, content_type="application/json",
                           headers=signed(body, "72d3162e-cc78-11e3-81ab-4c9367dc0958")) for _ in range(7)]
    assert [a.status_code for a in answers] == [202] + [200] * 6
    assert all(a.json["duplicate"] is True and a.json["id"] == answers[0].json["id"]  # type: ignore[index]
               for a in answers[1:])
    assert stored(app)["push_events"] == 1
    other = client.post("/api/hooks/git", data=body, content_type="application/json",
                        headers=signed(body, "another-delivery"))
    assert other.status_code == 202 and stored(app)["push_events"] == 2
    gitlab = {"X-Gitlab-Token": HOOK_SECRET, "X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "uuid-1"}
    for _ in range(3):
        client.post("/api/hooks/git", data=body, content_type="application/json", headers=gitlab)
    assert stored(app)["push_events"] == 3


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_csv_exports_neutralise_formula_cells(client: FlaskClient, app: Flask) -> None:
    hostile = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]
    for n, text in enumerate(hostile):
        response = client.post("/api/resolutions", headers=AUTH,
                               json={**GOOD, "ticket_id": f"INC-{n}", "note": text, "user": text})
        assert response.status_code == 201, response.json
    exported = client.get("/reports/articles/vpn-error-809?format=csv&days=0")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    notes = sorted(row["note"] for row in rows)
    assert notes == sorted("'" + text for text in hostile)
    assert all(row["user"].startswith("'") for row in rows)
    assert all(not cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row.values())
    for table in ("categories", "unused", "flags", "gaps", "zero_results", "overdue"):
        text = client.get(f"/reports/?format=csv&table={table}&days=0").get_data(as_text=True)
        assert not re.search(r"(^|,)[=+@]", text, re.MULTILINE), table


def test_the_user_header_counts_only_from_the_proxy_addresses(built_kb: Settings, tmp_path: Any) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/r.db", user_header="X-Remote-User", proxy_ips="10.0.0.5")
    with app.test_client() as client:
        with client.session_transaction() as session:
            session["csrf"] = "t"
        form = {"csrf_token": "t", "ticket_id": "INC-7", "category": "network/vpn", "name": "Form Name"}
        direct = client.post("/articles/vpn-error-809/resolutions", data=form,
                             headers={"X-Remote-User": "mallory"}, environ_base={"REMOTE_ADDR": "10.0.0.99"})
        assert direct.status_code == 303
        proxied = client.post("/articles/vpn-error-809/resolutions", data={**form, "ticket_id": "INC-8"},
                              headers={"X-Remote-User": "alice"}, environ_base={"REMOTE_ADDR": "10.0.0.5"})
        assert proxied.status_code == 303
        page = client.get("/reports/articles/vpn-error-809?format=json&days=0").get_json()
    users = {t["ticket_id"]: t["user"] for t in page["recent"]}
    assert users == {"INC-7": "Form Name", "INC-8": "alice"}


def test_a_bad_proxy_ips_setting_is_refused_at_start(built_kb: Settings, tmp_path: Any) -> None:
    with pytest.raises(Exception, match="KB_PROXY_IPS"):
        make_app(built_kb, f"sqlite:///{tmp_path}/r.db", proxy_ips="10.0.0.5,nginx.local")


@pytest.mark.parametrize("secure", [True, False])
def test_cookies_are_secure_when_the_setting_is_on(built_kb: Settings, tmp_path: Any, secure: bool) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/r.db", secure_cookies=secure)
    with app.test_client() as client:
        client.get("/articles/vpn-error-809")  # the record form puts a CSRF token in the session
        session_cookie = client.get_cookie("session")
        assert session_cookie is not None and session_cookie.secure is secure
        token = client.get("/articles/vpn-error-809").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', token)
        assert csrf is not None
        response = client.post("/language", data={"csrf_token": csrf[1], "lang": "zh", "next": "/"})
    cookies = response.headers.getlist("Set-Cookie")
    lang = [c for c in cookies if c.startswith("kb_lang=")]
    assert lang and ("; Secure" in lang[0]) is secure


def test_a_long_pasted_query_is_not_refused_by_the_server_and_a_huge_url_gets_a_json_414(
        client: FlaskClient) -> None:
    trace = "Traceback (most recent call last):\n" + "  File \"app.py\", line 12, in connect\n" * 150
    assert len(trace.encode()) > 4096
    response = client.get("/api/search", query_string={"q": trace})
    assert response.status_code < 500 and response.is_json
    huge = client.get("/api/search", query_string={"q": "x" * 300_000})
    assert huge.status_code == 414 and "limit" in huge.json["message"]  # type: ignore[index]
    assert huge.headers["Content-Security-Policy"]
    assert client.get("/search", query_string={"q": "x" * 300_000}).status_code == 414
