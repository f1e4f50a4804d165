"""Search from chat: Slack, Teams, DingTalk and Feishu requests signed as each platform signs them,
answered with the top three hits in the requester's language; unsigned or stale ones refused."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from kb.config import Settings
from web.app import create_app

pytest_plugins = ("tests.test_web_fixtures",)

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAMS_SECRET = base64.b64encode(b"teams-shared-key-0123456789").decode()
DINGTALK_SECRET = "SECd1ng7a1k"
FEISHU_TOKEN = "feishu-verification-token"


@pytest.fixture
def chat(built_kb: Settings) -> Iterator[FlaskClient]:
    settings = dataclasses.replace(built_kb, slack_signing_secret=SLACK_SECRET, teams_hmac_secret=TEAMS_SECRET,
                                   dingtalk_app_secret=DINGTALK_SECRET, feishu_verification_token=FEISHU_TOKEN)
    app = create_app({"KB_SETTINGS": settings, "TESTING": True})
    with app.test_client() as client:
        yield client


def slack_post(client: FlaskClient, text: str, *, secret: str = SLACK_SECRET, age: float = 0,
               signed: bool = True) -> tuple[int, dict[str, object]]:
    body = urllib.parse.urlencode({"token": "legacy", "team_id": "T1", "user_id": "U1", "command": "/kb",
                                   "text": text, "response_url": "https://hooks.slack.com/commands/x"})
    timestamp = str(int(time.time() - age))
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature} if signed else {}
    response = client.post("/chat/slack", data=body, headers=headers,
                           content_type="application/x-www-form-urlencoded")
    return response.status_code, response.get_json()


def test_a_signed_slack_command_is_answered_with_the_top_hits(chat: FlaskClient) -> None:
    status, reply = slack_post(chat, "vpn error 809")
    assert status == 200, reply
    assert reply["response_type"] == "ephemeral"
    lines = str(reply["text"]).splitlines()
    assert 1 <= len(lines) <= 3
    assert lines[0].startswith("1. <http://localhost/articles/vpn-error-809#")
    assert "|VPN fails with error 809>" in lines[0]
    assert " · " in lines[0]  # the best section's heading follows the link
    assert [block["text"]["text"] for block in reply["blocks"]] == lines


def test_slack_answers_in_the_requesters_language(chat: FlaskClient) -> None:
    status, reply = slack_post(chat, "VPN 错误 809")
    assert status == 200
    first = str(reply["text"]).splitlines()[0]
    assert "/articles/vpn-error-809-zh" in first and "VPN 连接失败，错误 809" in first
    status, reply = slack_post(chat, "qqqzzzxxx")
    assert status == 200 and reply["text"] == "No articles match “qqqzzzxxx”."
    status, reply = slack_post(chat, "<!channel> qqzz")
    assert status == 200 and reply["text"] == "No articles match “&lt;!channel&gt; qqzz”."
    status, reply = slack_post(chat, "没有这种东西哈哈")
    assert status == 200 and "没有找到" in str(reply["text"])


@pytest.mark.parametrize("case", ["unsigned", "wrong secret", "stale", "tampered"])
def test_slack_refuses_unsigned_wrong_and_stale_requests(chat: FlaskClient, case: str) -> None:
    if case == "tampered":
        timestamp = str(int(time.time()))
        signature = "v0=" + hmac.new(SLACK_SECRET.encode(), f"v0:{timestamp}:text=vpn".encode(),
                                     hashlib.sha256).hexdigest()
        response = chat.post("/chat/slack", data="text=draft", content_type="application/x-www-form-urlencoded",
                             headers={"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature})
        status, reply = response.status_code, response.get_json()
    else:
        status, reply = slack_post(chat, "vpn", signed=case != "unsigned",
                                   secret="wrong" if case == "wrong secret" else SLACK_SECRET,
                                   age=6 * 60 if case == "stale" else 0)
    assert status == 401
    assert reply["error"] == "unauthorized"
    assert "vpn-error-809" not in json.dumps(reply)


def test_chat_is_off_until_its_secret_is_set(client: FlaskClient) -> None:
    response = client.post("/chat/slack", data="text=vpn", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 404 and "KB_SLACK_SIGNING_SECRET" in response.get_json()["message"]


def teams_post(client: FlaskClient, activity: dict[str, object], key: str = TEAMS_SECRET) -> tuple[int, dict]:
    body = json.dumps(activity).encode()
    signature = base64.b64encode(hmac.new(base64.b64decode(key), body, hashlib.sha256).digest()).decode()
    response = client.post("/chat/teams", data=body, content_type="application/json",
                           headers={"Authorization": f"HMAC {signature}"})
    return response.status_code, response.get_json()


def test_teams_outgoing_webhook(chat: FlaskClient) -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    status, reply = teams_post(chat, {"type": "message", "text": "<at>kb</at> outlook password", "locale": "en-US",
                                      "timestamp": now})
    assert status == 200 and reply["type"] == "message"
    assert reply["text"].startswith("1. [Outlook keeps asking for a password](http://localhost/articles/"
                                    "outlook-password-prompt")
    status, reply = teams_post(chat, {"type": "message", "text": "<at>kb</at> vpn 809", "locale": "zh-CN",
                                      "timestamp": now})
    assert status == 200 and "vpn-error-809-zh" in reply["text"].splitlines()[0]
    other = base64.b64encode(b"another-key").decode()
    assert teams_post(chat, {"type": "message", "text": "vpn"}, key=other)[0] == 401
    assert chat.post("/chat/teams", json={"text": "vpn"}).status_code == 401
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    assert teams_post(chat, {"type": "message", "text": "vpn", "timestamp": old})[0] == 401


def dingtalk_headers(secret: str = DINGTALK_SECRET, age_ms: int = 0) -> dict[str, str]:
    timestamp = str(int(time.time() * 1000) - age_ms)
    sign = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest())
    return {"timestamp": timestamp, "sign": sign.decode()}


def test_dingtalk_outgoing_robot(chat: FlaskClient) -> None:
    message = {"msgtype": "text", "text": {"content": " VPN 错误 809"}, "senderNick": "张三"}
    response = chat.post("/chat/dingtalk", json=message, headers=dingtalk_headers())
    assert response.status_code == 200
    reply = response.get_json()
    assert reply["msgtype"] == "markdown" and reply["markdown"]["title"] == "知识库"
    assert "vpn-error-809-zh" in reply["markdown"]["text"].splitlines()[0]
    assert chat.post("/chat/dingtalk", json=message, headers=dingtalk_headers("SECother")).status_code == 401
    assert chat.post("/chat/dingtalk", json=message,
                     headers=dingtalk_headers(age_ms=2 * 3600 * 1000)).status_code == 401
    assert chat.post("/chat/dingtalk", json=message).status_code == 401


def feishu_event(text: str, token: str = FEISHU_TOKEN, age_ms: int = 0) -> dict[str, object]:
    return {"schema": "2.0",
            "header": {"event_id": "ev1", "token": token, "event_type": "im.message.receive_v1",
                       "create_time": str(int(time.time() * 1000) - age_ms), "app_id": "cli_x"},
            "event": {"message": {"message_type": "text", "chat_id": "oc_1",
                                  "content": json.dumps({"text": f"@_user_1 {text}"})}}}


def test_feishu_event_subscription(chat: FlaskClient) -> None:
    check = chat.post("/chat/feishu", json={"challenge": "abc123", "token": FEISHU_TOKEN,
                                            "type": "url_verification"})
    assert check.status_code == 200 and check.get_json() == {"challenge": "abc123"}
    response = chat.post("/chat/feishu", json=feishu_event("工单 生命周期"))
    assert response.status_code == 200
    reply = response.get_json()
    assert reply["msg_type"] == "text"
    assert reply["content"]["text"].startswith("1. 工单的生命周期")
    assert "http://localhost/articles/ticket-lifecycle-zh" in reply["content"]["text"]
    assert chat.post("/chat/feishu", json=feishu_event("vpn", token="wrong")).status_code == 401
    assert chat.post("/chat/feishu", json=feishu_event("vpn", age_ms=3600 * 1000)).status_code == 401
    assert chat.post("/chat/feishu", json={"challenge": "x", "type": "url_verification"}).status_code == 401
