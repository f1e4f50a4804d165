"""The ticketing integration kit: what docs/integrations.md tells an operator to send, sent as each
system sends it. A closed ticket's reply text records the articles it links; Zammad signs with
HMAC-SHA1; agent sidebars call suggest from their own origin; nginx lets the token routes through."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kb.config import Settings
from kb.records.models import ClosedTicket, Resolution
from tests import test_records_fixtures as fx
from tests.conftest import REPO
from tests.test_records_web import AUTH, CREATED, count, make_app
from web import records

pytest_plugins = ("tests.test_web_fixtures",)

database_url = fx.database_url
ZAMMAD_SECRET = "zammad-hmac-key"
DOC = (REPO / "docs" / "integrations.md").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _close_databases() -> Iterator[None]:
    yield
    while CREATED:
        CREATED.pop().extensions[records.EXTENSION_KEY].dispose()


@pytest.fixture
def app(built_kb: Settings, database_url: str) -> Flask:
    return make_app(built_kb, database_url, ticket_hmac_secret=ZAMMAD_SECRET, trusted_hosts="",
                    cors_origins="https://acme.zendesk.com, https://acme.freshdesk.com")


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


def closed(client: FlaskClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return client.post("/api/tickets/closed", data=json.dumps(body), content_type="application/json",
                       headers=AUTH if headers is None else headers)


def test_a_reply_linking_articles_records_each_as_resolving_the_ticket(client: FlaskClient, app: Flask) -> None:
    reply = ("Hi Ann, please follow http://localhost/articles/vpn-error-809#resolution and, for the mail "
             'prompt, <a href="http://localhost/articles/outlook-password-prompt">this article</a>. '
             "Also see https://vendor.example.com/articles/vpn-error-809 and /articles/no-such-article.")
    response = closed(client, {"ticket_id": 4711, "ticket_system": "zendesk", "user": "agent@acme.com",
                               "text": reply})
    assert response.status_code == 201, response.json
    assert response.json["ticket"] is None
    found = {(r["article_id"], r["category"]) for r in response.json["resolutions"]}
    assert found == {("vpn-error-809", "network/vpn"), ("outlook-password-prompt", "email/outlook")}
    assert count(app, Resolution) == 2 and count(app, ClosedTicket) == 0
    again = closed(client, {"ticket_id": 4711, "ticket_system": "zendesk", "text": reply})
    assert again.status_code == 200 and again.json["created"] is False
    assert count(app, Resolution) == 2


def test_aliases_and_search_result_links_resolve_to_the_article(client: FlaskClient, app: Flask) -> None:
    response = closed(client, {"ticket_id": "INC-9", "category": "network", "text":
                               "Fixed with http://localhost/go/12/vpn-809 (see also http://localhost/articles/vpn-809)."})
    assert response.status_code == 201
    assert [r["article_id"] for r in response.json["resolutions"]] == ["vpn-error-809"]
    assert response.json["resolutions"][0]["category"] == "network"


def test_a_reply_without_links_counts_as_closed_without_an_article(client: FlaskClient, app: Flask) -> None:
    response = closed(client, {"ticket_id": "SD-5", "category": "printing", "text": "Rebooted the printer."})
    assert response.status_code == 201 and response.json["ticket"]["category"] == "printing"
    assert response.json["resolutions"] == []
    assert count(app, ClosedTicket) == 1 and count(app, Resolution) == 0
    assert closed(client, {"ticket_id": "SD-6", "text": 7}).status_code == 422


def zammad_post(client: FlaskClient, body: dict[str, Any], secret: str = ZAMMAD_SECRET) -> Any:
    raw = json.dumps(body).encode()
    signature = "sha1=" + hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()
    return client.post("/api/tickets/closed", data=raw, content_type="application/json",
                       headers={"X-Hub-Signature": signature, "User-Agent": "Zammad User Agent"})


def test_zammad_signs_with_hmac_sha1_instead_of_the_bearer_token(client: FlaskClient, app: Flask) -> None:
    body = {"ticket_id": "84001", "ticket_system": "zammad", "user": "agent",
            "text": "<p>Solved: <a href=&quot;http://localhost/articles/vpn-error-809&quot;>VPN 809</a></p>"}
    response = zammad_post(client, body)
    assert response.status_code == 201, response.json
    assert response.json["resolutions"][0]["ticket_system"] == "zammad"
    assert zammad_post(client, body | {"ticket_id": "84002"}, secret="wrong").status_code == 401
    assert count(app, Resolution) == 1


def test_zammads_own_payload_is_understood_too(client: FlaskClient, app: Flask) -> None:
    body = {"ticket": {"id": 7, "number": "31007", "title": "VPN", "owner": {"login": "agent", "email": "a@x.org"}},
            "article": {"body": "Fixed, see http://localhost/articles/outlook-password-prompt", "internal": False}}
    response = zammad_post(client, body)
    assert response.status_code == 201, response.json
    resolution = response.json["resolutions"][0]
    assert (resolution["ticket_id"], resolution["article_id"], resolution["user"]) == (
        "31007", "outlook-password-prompt", "a@x.org")
    assert closed(client, body).status_code == 400  # without the signature the usual fields are required


def test_with_trusted_hosts_only_links_to_them_count(built_kb: Settings, database_url: str) -> None:
    app = make_app(built_kb, database_url, trusted_hosts="kb.example.com,localhost")
    client = app.test_client()
    response = closed(client, {"ticket_id": "T-1", "category": "network", "text":
                               "See https://vendor.example.com/articles/vpn-error-809 and "
                               "https://kb.example.com/articles/outlook-password-prompt"})
    assert [r["article_id"] for r in response.json["resolutions"]] == ["outlook-password-prompt"]


def test_suggest_answers_the_configured_origins_only(client: FlaskClient) -> None:
    preflight = client.options("/api/suggest", headers={
        "Origin": "https://acme.zendesk.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://acme.zendesk.com"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    response = client.post("/api/suggest", json={"subject": "VPN error 809"},
                           headers={"Origin": "https://acme.freshdesk.com"})
    assert response.status_code == 200 and response.json["hits"][0]["id"] == "vpn-error-809"
    assert response.headers["Access-Control-Allow-Origin"] == "https://acme.freshdesk.com"
    assert "Access-Control-Allow-Credentials" not in response.headers
    other = client.post("/api/suggest", json={"subject": "VPN"}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers and "Origin" in other.headers["Vary"]
    elsewhere = client.get("/api/categories", headers={"Origin": "https://acme.zendesk.com"})
    assert "Access-Control-Allow-Origin" not in elsewhere.headers


def test_nginx_lets_the_token_and_chat_routes_past_sign_in() -> None:
    conf = (REPO / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    blocks = re.findall(r"location ([^{]+)\{([^}]*)\}", conf)
    exempt = [(where.strip(), body) for where, body in blocks if "auth_request off" in body]
    for path in ("/api/resolutions", "/api/tickets/closed", "/api/hooks/git", "/chat/slack", "/chat/teams",
                 "/chat/dingtalk", "/chat/feishu"):
        matching = [body for where, body in exempt if
                    (where.startswith("~") and re.match(where.lstrip("~ ").strip(), path)) or where == f"= {path}"]
        assert matching, f"{path} would hit the sign-in page"
        assert 'X-Remote-User ""' in matching[0], f"{path} must not pass a user name"


@pytest.mark.parametrize("system", ["Jira Service Management", "Zendesk", "Freshdesk", "ServiceNow", "Zammad",
                                    "osTicket", "GLPI", "Slack", "Microsoft Teams", "DingTalk", "Feishu"])
def test_the_integration_guide_covers_each_system(system: str) -> None:
    assert re.search(rf"^## .*\b{re.escape(system)}\b", DOC, re.M), system


def test_every_payload_in_the_guide_is_accepted_by_the_api() -> None:
    """Each ```json block under a ticketing system is a body /api/tickets/closed or /api/resolutions takes."""
    from web.records import CLOSED_FIELDS, RESOLUTION_FIELDS

    payloads = re.findall(r"```json\n(.*?)```", DOC, re.DOTALL)
    assert len(payloads) >= 5
    for raw in payloads:
        data = json.loads(re.sub(r"\{\{[^}]*\}\}|\$\{[^}]*\}|#\{[^}]*\}", "x", raw))
        assert set(data) <= (CLOSED_FIELDS | RESOLUTION_FIELDS), raw
        assert "ticket_id" in data and ("text" in data or "article" in data), raw
