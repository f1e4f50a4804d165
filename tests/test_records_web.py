"""The records API, the article-page form and the report pages, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kb.config import Settings
from kb.records.db import Database
from kb.records.models import ClosedTicket, Feedback, Resolution, SearchLogEntry
from tests import test_records_fixtures as fx
from web import records
from web.app import create_app

pytest_plugins = ("tests.test_web_fixtures",)

database_url = fx.database_url
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD = {"article": "vpn-error-809", "ticket_id": "INC-1001", "category": "network/vpn"}


CREATED: list[Flask] = []


def make_app(settings: Settings, url: str, **overrides: Any) -> Flask:
    values = {"database_url": url, "api_token_hash": hashlib.sha256(TOKEN.encode()).hexdigest(), **overrides}
    app = create_app({"KB_SETTINGS": dataclasses.replace(settings, **values), "TESTING": True})
    CREATED.append(app)
    return app


@pytest.fixture(autouse=True)
def _close_databases() -> Iterator[None]:
    """Every app's database connections are closed when its test ends."""
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


def count(app: Flask, model: type) -> int:
    db: Database = app.extensions[records.EXTENSION_KEY]
    with db.session() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def post(client: FlaskClient, url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=AUTH | (headers or {}))


def test_posting_a_resolution_twice_stores_one_and_says_so(client: FlaskClient, app: Flask) -> None:
    first = post(client, "/api/resolutions", GOOD)
    assert first.status_code == 201, first.json
    assert first.json["created"] is True and first.json["resolution"]["source"] == "api"
    again = post(client, "/api/resolutions", GOOD | {"note": "again"})
    assert again.status_code == 200 and again.json["created"] is False
    assert "already recorded" in again.json["message"]
    assert count(app, Resolution) == 1


def test_an_alias_is_stored_under_the_current_id(client: FlaskClient) -> None:
    response = post(client, "/api/resolutions", GOOD | {"article": "vpn-809"})
    assert response.status_code == 201
    assert response.json["resolution"]["article_id"] == "vpn-error-809"


def test_another_category_for_the_same_record_is_409(client: FlaskClient, app: Flask) -> None:
    assert post(client, "/api/resolutions", GOOD).status_code == 201
    response = post(client, "/api/resolutions", GOOD | {"category": "email"})
    assert response.status_code == 409 and "network/vpn" in response.json["message"]
    assert count(app, Resolution) == 1


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Bearer wrong"}, 401),
    ({"Authorization": f"Basic {TOKEN}"}, 401),
    ({"Authorization": "Bearer "}, 401),
])
def test_the_api_needs_the_bearer_token(client: FlaskClient, app: Flask, headers: dict[str, str],
                                        status: int) -> None:
    response = client.post("/api/resolutions", json=GOOD, headers=headers)
    assert response.status_code == status
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(app, Resolution) == 0


def test_the_api_is_off_without_a_token_hash(built_kb: Settings, tmp_path: Path) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/r.db", api_token_hash="")
    response = app.test_client().post("/api/resolutions", json=GOOD, headers=AUTH)
    assert response.status_code == 503 and "KB_API_TOKEN_HASH" in response.json["message"]


@pytest.mark.parametrize(("body", "content_type", "status", "message"), [
    ("not json", "application/json", 400, "not valid JSON"),
    (b"\xff\xfe", "application/json", 400, "not valid JSON"),
    ("[1, 2]", "application/json", 400, "JSON object"),
    (json.dumps(GOOD | {"sql": "drop"}), "application/json", 400, "unknown field"),
    (json.dumps(GOOD | {"article": "no-such-article"}), "application/json", 422, "unknown article"),
    (json.dumps(GOOD | {"ticket_id": "INC 1 <script>"}), "application/json", 422, "malformed"),
    (json.dumps(GOOD | {"ticket_id": None}), "application/json", 422, "ticket_id is required"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "category"}), "application/json", 422, "category"),
    (json.dumps(GOOD | {"category": "printing/none"}), "application/json", 422, "unknown category"),
    (json.dumps(GOOD | {"relation": "fixed"}), "application/json", 422, "relation"),
    (json.dumps(GOOD | {"when": "yesterday"}), "application/json", 422, "ISO 8601"),
    (json.dumps(GOOD | {"when": "2026-01-01T10:00:00"}), "application/json", 422, "time zone"),
    (json.dumps(GOOD | {"note": "x" * 20_000}), "application/json", 413, "at most"),
    (json.dumps(GOOD), "text/plain", 415, "application/json"),  # item 4 of issue 12: not the CSRF message
])
def test_malformed_input_is_a_4xx_with_a_message_and_stores_nothing(
        client: FlaskClient, app: Flask, body: str | bytes, content_type: str, status: int, message: str) -> None:
    response = client.post("/api/resolutions", data=body, content_type=content_type, headers=AUTH)
    assert response.status_code == status, response.get_data(as_text=True)
    assert message in response.get_data(as_text=True)
    assert count(app, Resolution) == 0


def test_a_non_json_body_with_a_csrf_token_is_415(client: FlaskClient, app: Flask) -> None:
    with client.session_transaction() as session:
        session["csrf"] = "t"
    response = client.post("/api/resolutions", data={"csrf_token": "t", **GOOD}, headers=AUTH)
    assert response.status_code == 415
    assert count(app, Resolution) == 0


def test_closed_without_article_is_idempotent(client: FlaskClient, app: Flask) -> None:
    body = {"ticket_id": "INC-2000", "category": "email", "ticket_system": "jira"}
    assert post(client, "/api/tickets/closed", body).status_code == 201
    assert post(client, "/api/tickets/closed", body).status_code == 200
    assert post(client, "/api/tickets/closed", body | {"category": "network"}).status_code == 409
    assert post(client, "/api/tickets/closed", body | {"article": "vpn-error-809"}).status_code == 400
    assert count(app, ClosedTicket) == 1


def test_the_article_form_needs_csrf(client: FlaskClient, app: Flask) -> None:
    form = {"ticket_id": "INC-5", "category": "network/vpn", "name": "ann"}
    assert client.post("/articles/vpn-error-809/resolutions", data=form).status_code == 400
    assert count(app, Resolution) == 0


def test_the_article_form_records_with_the_name_given(client: FlaskClient, app: Flask) -> None:
    with client.session_transaction() as session:
        session["csrf"] = "tok"
    form = {"csrf_token": "tok", "ticket_id": "INC-5", "category": "network/vpn", "name": "ann", "note": "worked"}
    response = client.post("/articles/vpn-error-809/resolutions", data=form)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/articles/vpn-error-809#record-resolution")
    again = client.post("/articles/vpn-error-809/resolutions", data=form, follow_redirects=True)
    assert "already recorded" in again.get_data(as_text=True)
    with app.test_request_context():
        [row] = records.get_store().resolutions()
    assert (row.user, row.source, row.note) == ("ann", "web", "worked")
    bad = client.post("/articles/vpn-error-809/resolutions", data=form | {"ticket_id": "bad id!"})
    assert bad.status_code == 400 and "malformed" in bad.get_data(as_text=True)


def test_the_proxy_user_header_wins_over_the_form_name(built_kb: Settings, tmp_path: Path) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/r.db", user_header="X-Remote-User")
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf"] = "tok"
    form = {"csrf_token": "tok", "ticket_id": "INC-6", "category": "network/vpn", "name": "mallory"}
    assert client.post("/articles/vpn-error-809/resolutions", data=form,
                       headers={"X-Remote-User": "ann@corp"}).status_code == 303
    with app.test_request_context():
        [row] = records.get_store().resolutions()
    assert row.user == "ann@corp"


def test_the_article_panel_shows_usage_and_the_form(client: FlaskClient, app: Flask) -> None:
    post(client, "/api/resolutions", GOOD | {"user": "ann"})
    with app.test_request_context("/articles/vpn-error-809"):
        from web.catalog import get_snapshot

        article = get_snapshot().by_id["vpn-error-809"]
        html = render_template_string('{% include "records/_article_panel.html" %}', article=article)
    assert "Tickets resolved: <strong>1</strong>" in html
    assert 'name="csrf_token"' in html and 'value="network/vpn" selected' in html
    assert "ann (1)" in html


def seed(client: FlaskClient) -> None:
    for n, (article, category) in enumerate([("vpn-error-809", "network/vpn"), ("vpn-809", "network/vpn"),
                                              ("outlook-password-prompt", "email/outlook")]):
        assert post(client, "/api/resolutions", {"article": article, "ticket_id": f"INC-{n}",
                                                 "category": category}).status_code == 201
    for n in range(3):
        assert post(client, "/api/tickets/closed", {"ticket_id": f"INC-9{n}", "category": "printing"}
                    ).status_code == 201


def test_kcs_report_page_has_charts_and_gaps(client: FlaskClient, app: Flask) -> None:
    seed(client)
    with app.test_request_context():
        records.log_search("打印机 脱机", {"category": ["printing"]}, 0)
    page = client.get("/reports/?days=30")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # two trend charts (rates, known/new by week) and three by category
    assert html.count("<svg") == 5 and "<script" not in html.split("</header>")[1]
    assert "打印机 脱机" in html
    data = client.get("/reports/?days=30&format=json").json
    assert data["totals"]["tickets"] == 6 and data["totals"]["link_rate"] == 0.5
    assert [g["category"] for g in data["content_gaps"]] == ["printing"]
    csv = client.get("/reports/?format=csv&table=gaps")
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).startswith("category,tickets")


def test_categories_and_article_reports(client: FlaskClient) -> None:
    seed(client)
    data = client.get("/reports/categories?format=json").json
    vpn = next(c for c in data["categories"] if c["category"] == "network/vpn")
    assert vpn["top_solutions"][0] == {"article_id": "vpn-error-809", "title": "VPN fails with error 809",
                                       "tickets": 2}
    assert "VPN fails with error 809" in client.get("/reports/categories").get_data(as_text=True)
    moved = client.get("/reports/articles/vpn-809")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/reports/articles/vpn-error-809")
    usage = client.get("/reports/articles/vpn-error-809?format=json").json
    assert usage["tickets"] == 2
    assert "INC-1" in client.get("/reports/articles/vpn-error-809").get_data(as_text=True)
    assert client.get("/reports/articles/vpn-error-809?format=csv").get_data(as_text=True).count("\n") == 3


@pytest.mark.parametrize("query", ["days=abc", "days=-1", "days=99999", "category=nope", "format=xml"])
def test_bad_report_parameters_are_400(client: FlaskClient, query: str) -> None:
    assert client.get(f"/reports/?{query}").status_code == 400


def test_search_clicks_are_logged_and_redirect_only_to_articles(client: FlaskClient, app: Flask) -> None:
    with app.test_request_context():
        search_id = records.log_search("vpn 809", {}, 1)
    assert search_id is not None
    response = client.get(f"/go/{search_id}/vpn-809")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/articles/vpn-error-809?s={search_id}")
    response.close()  # the click is recorded once the redirect has been sent
    assert client.get(f"/go/{search_id}/https://evil.example").status_code == 404
    db: Database = app.extensions[records.EXTENSION_KEY]
    with db.session() as session:
        assert session.execute(select(SearchLogEntry.clicked_article_id)).scalar_one() == "vpn-error-809"


def test_creating_the_app_opens_no_database_connection(built_kb: Settings, tmp_path: Path) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/lazy/records.db")
    assert not (tmp_path / "lazy").exists()
    assert app.test_client().get("/reports/").status_code == 200
    assert (tmp_path / "lazy" / "records.db").exists()


def test_an_unreachable_database_is_a_503(built_kb: Settings) -> None:
    app = make_app(built_kb, "postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    client = app.test_client()
    assert client.post("/api/resolutions", json=GOOD, headers=AUTH).status_code == 503
    assert client.get("/reports/").status_code == 503


def test_feedback_is_recorded_with_its_search(client: FlaskClient, app: Flask) -> None:
    with app.test_request_context():
        search_id = records.log_search("outlook password", {}, 2)
    response = client.post("/api/feedback", json={"article": "outlook-password-prompt", "helpful": True,
                                                  "search_id": search_id})
    assert response.status_code == 201
    assert client.post("/api/feedback", json={"article": "outlook-password-prompt", "helpful": "yes"}
                       ).status_code == 422
    assert client.post("/api/feedback", json={"article": "outlook-password-prompt", "helpful": False,
                                              "search_id": 999999}).status_code == 422
    assert client.post("/api/feedback", json={"article": "nope", "helpful": False}).status_code == 422
    assert count(app, Feedback) == 1


def test_a_token_hash_that_is_not_a_digest_refuses_writes(built_kb: Settings, tmp_path: Path) -> None:
    app = make_app(built_kb, f"sqlite:///{tmp_path}/r.db", api_token_hash=TOKEN)
    response = app.test_client().post("/api/resolutions", json=GOOD, headers=AUTH)
    assert response.status_code == 503 and "64 hex digits" in response.json["message"]


def test_solution_scores_rank_recent_use_first(client: FlaskClient, app: Flask) -> None:
    seed(client)
    with app.test_request_context():
        assert [article_id for article_id, _score in records.most_used(2)] == ["vpn-error-809",
                                                                               "outlook-password-prompt"]
        assert records.usage_counts() == {"vpn-error-809": 2, "outlook-password-prompt": 1}


def test_counts_follow_an_article_renamed_with_an_alias(built_kb: Settings, tmp_path: Path,
                                                        database_url: str) -> None:
    from kb.loader import load_knowledge_base
    from search.build import build_index
    from tests.test_web_fixtures import ARTICLES, web_settings, write_knowledge_base

    settings = web_settings(write_knowledge_base(tmp_path / "articles", ARTICLES), tmp_path / "index")
    build_index(settings)
    app = make_app(settings, database_url)
    client = app.test_client()
    assert post(client, "/api/resolutions", GOOD).status_code == 201
    # The writer moves the file and gives the article a new id, keeping the old id and path as aliases.
    old = settings.articles_dir / "en/network/vpn-error-809.md"
    text = old.read_text(encoding="utf-8").replace("id: \"vpn-error-809\"", "id: \"vpn-809-l2tp\"").replace(
        'aliases: ["vpn-809"', 'aliases: ["vpn-error-809", "en/network/vpn-error-809.md", "vpn-809"')
    new = settings.articles_dir / "en/network/vpn-809-l2tp.md"
    new.write_text(text, encoding="utf-8")
    old.unlink()
    onboarding = settings.articles_dir / "_kb" / "onboarding.yaml"
    onboarding.write_text(onboarding.read_text(encoding="utf-8").replace("vpn-error-809,", "vpn-809-l2tp,"),
                          encoding="utf-8")
    report = build_index(settings)
    assert "vpn-809-l2tp" in {a.id for a in load_knowledge_base(settings.articles_dir).articles}, report.problems
    assert client.get("/reports/articles/vpn-error-809").headers["Location"].endswith(
        "/reports/articles/vpn-809-l2tp")
    assert client.get("/reports/articles/vpn-809-l2tp?format=json").json["tickets"] == 1
    again = post(client, "/api/resolutions", GOOD)  # the old id still names the same record
    assert again.status_code == 201 and again.json["resolution"]["article_id"] == "vpn-809-l2tp"
    assert client.get("/reports/articles/vpn-809-l2tp?format=json").json["tickets"] == 1


def conforms(schema: dict[str, Any], value: Any, schemas: dict[str, Any], where: str = "$") -> list[str]:
    """Problems of `value` against a small JSON Schema subset (type, required, properties, items, enum, $ref)."""
    if "$ref" in schema:
        return conforms(schemas[schema["$ref"].rsplit("/", 1)[1]], value, schemas, where)
    kinds = schema.get("type")
    types = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict,
             "array": list, "null": type(None)}
    if kinds is not None:
        allowed = kinds if isinstance(kinds, list) else [kinds]
        if not any(isinstance(value, types[k]) and not (k == "integer" and isinstance(value, bool))
                   for k in allowed):
            return [f"{where}: {value!r} is not {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    problems = [f"{where}: missing {k}" for k in schema.get("required", []) if k not in value]
    for key, sub in schema.get("properties", {}).items():
        if isinstance(value, dict) and key in value:
            problems += conforms(sub, value[key], schemas, f"{where}.{key}")
    return problems


def test_api_answers_match_the_openapi_schemas(client: FlaskClient) -> None:
    from web.openapi import SCHEMAS

    schemas = {**SCHEMAS, **records.OPENAPI_SCHEMAS}
    paths = records.OPENAPI_PATHS
    assert conforms(schemas["ResolutionInput"], GOOD, schemas) == []
    for body in (GOOD, GOOD, GOOD | {"category": "email"}, GOOD | {"article": "nope"}, "[]"):
        answer = post(client, "/api/resolutions", body) if body != "[]" else client.post(
            "/api/resolutions", data="[]", content_type="application/json", headers=AUTH)
        documented = paths["/api/resolutions"]["post"]["responses"][str(answer.status_code)]
        assert conforms(documented["content"]["application/json"]["schema"], answer.json, schemas) == []
    closed = post(client, "/api/tickets/closed", {"ticket_id": 7, "category": "email"})
    documented = paths["/api/tickets/closed"]["post"]["responses"]["201"]
    assert conforms(documented["content"]["application/json"]["schema"], closed.json, schemas) == []
    feedback = client.post("/api/feedback", json={"article": "vpn-error-809", "helpful": True})
    documented = paths["/api/feedback"]["post"]["responses"]["201"]
    assert conforms(documented["content"]["application/json"]["schema"], feedback.json, schemas) == []
    routes = {r.rule for r in client.application.url_map.iter_rules() if r.rule.startswith("/api/")
              and r.endpoint.startswith("records.")}
    assert routes == set(paths)


def test_report_pages_speak_chinese(client: FlaskClient) -> None:
    seed(client)
    headers = {"Accept-Language": "zh-CN,zh;q=0.9"}
    page = client.get("/reports/", headers=headers).get_data(as_text=True)
    assert "KCS 报表" in page and "内容缺口" in page and "各分类的工单" in page
    assert "使用报告" not in page
    assert "文章使用情况" in client.get("/reports/articles/vpn-error-809", headers=headers).get_data(as_text=True)


@pytest.mark.parametrize("key", ["en/network/vpn-error-809", "/en/network/vpn-error-809.md", "VPN-809",
                                 "network/old-vpn-page"])
def test_kb_link_and_the_api_resolve_ids_aliases_and_paths_alike(app: Flask, client: FlaskClient, built_kb: Settings,
                                                                 database_url: str, key: str) -> None:
    # One resolver (kb.ids) behind both: what `kb link` accepts, POST /api/resolutions accepts too.
    from click.testing import CliRunner

    from kbcli.main import cli

    env = {"KB_DATABASE_URL": database_url, "KB_ARTICLES_DIR": str(built_kb.articles_dir),
           "KB_INDEX_DIR": str(built_kb.index_dir), "USER": "tester"}
    linked = CliRunner().invoke(cli, ["link", key, "INC-77", "--category", "network/vpn"], env=env)
    assert linked.exit_code == 0, linked.output
    assert "resolved by vpn-error-809" in linked.output
    response = post(client, "/api/resolutions", GOOD | {"article": key, "ticket_id": "INC-78"})
    assert response.status_code == 201, response.json
    assert response.json["resolution"]["article_id"] == "vpn-error-809"


def test_every_json_route_answers_errors_with_one_body(client: FlaskClient, tmp_path: Path) -> None:
    # web.errors.json_error: {"error", "message"} from the site's handlers, the records API and the webhook.
    answers = [
        client.get("/api/articles/no-such-article"),  # the 404 handler
        client.post("/api/suggest", data="{not json", content_type="application/json"),  # a bad body
        client.post("/api/resolutions", data="x", content_type="text/plain", headers=AUTH),  # records: 415
        client.post("/api/resolutions", json=GOOD),  # records: no token, 401
        post(client, "/api/resolutions", GOOD | {"article": "nope"}),  # records: 422
        client.post("/api/hooks/git", data="{}", content_type="application/json"),  # publishing: unsigned
    ]
    for answer in answers:
        assert answer.status_code >= 400, (answer.request.path, answer.status_code)
        assert answer.mimetype == "application/json"
        assert set(answer.json) == {"error", "message"}, answer.json
        assert answer.json["error"] and answer.json["message"]


def test_openapi_lists_what_each_feature_registered(client: FlaskClient) -> None:
    from web import publishing

    document = client.get("/api/openapi.json").get_json()
    assert set(records.OPENAPI_PATHS) | set(publishing.OPENAPI_PATHS) <= set(document["paths"])
    assert "bearer" in {s.get("scheme") for s in document["components"]["securitySchemes"].values()}
