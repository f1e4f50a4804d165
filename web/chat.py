"""Search from chat: Slack, Microsoft Teams, DingTalk and Feishu (Lark) send what an agent typed;
kb answers in the same HTTP response with the top three articles (title, best section, link).

Each platform signs its requests its own way, and each check is the platform's documented one:

- Slack slash command: `X-Slack-Signature: v0=HMAC-SHA256(signing secret, "v0:{timestamp}:{body}")`,
  `X-Slack-Request-Timestamp` within five minutes.
- Teams outgoing webhook: `Authorization: HMAC base64(HMAC-SHA256(base64-decoded token, body))`.
- DingTalk outgoing robot: headers `timestamp` (ms, within an hour, DingTalk's rule) and
  `sign = base64(HMAC-SHA256(AppSecret, "{timestamp}\\n{AppSecret}"))`.
- Feishu event subscription: the Verification Token in the event (`header.token`, or `token`
  in 1.0 events and the URL check); events older than five minutes are refused.

A request that is unsigned, wrongly signed or stale gets 401 and no search runs. Answers hold the
hits and nothing else: no snippet text beyond the section name, no drafts (search never returns them).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import html
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request, url_for

from search import ArticleView
from web.catalog import get_catalog, get_snapshot
from web.errors import json_error
from web.i18n import translate_to
from web.security import csrf_exempt
from web.settings import get_settings

bp = Blueprint("chat", __name__, url_prefix="/chat")
TOP_HITS = 3
SLACK_WINDOW_SECONDS = 5 * 60  # Slack's documented replay window
DINGTALK_WINDOW_SECONDS = 60 * 60  # DingTalk: "more than one hour apart is an illegal request"
FEISHU_WINDOW_SECONDS = 5 * 60
TEAMS_WINDOW_SECONDS = 5 * 60  # Teams signs no timestamp header; the activity's own timestamp is checked
MAX_QUERY_CHARS = 500  # a chat line, not a document
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
WORD = re.compile(r"\w+")
MENTION = re.compile(r"<at[^>]*>.*?</at>|@_user_\d+", re.IGNORECASE | re.DOTALL)
TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class ChatHit:
    """One answer line: the article, its best section (may be empty) and the link to it."""

    title: str
    section: str
    url: str


class Unauthorized(Exception):
    """The request is unsigned, wrongly signed or stale."""


def _unauthorized(reason: str) -> Response:
    return json_error(401, "unauthorized", reason)


def _disabled(setting: str) -> Response:
    # 404, as if the route were not there: nothing is wrong with the server, the integration is just off.
    return json_error(404, "chat disabled", f"this chat integration is off: set {setting}")


def _fresh(timestamp: str, window: float, scale: float = 1.0) -> None:
    try:
        sent = float(timestamp) / scale
    except ValueError:
        raise Unauthorized("the request timestamp is not a number") from None
    if abs(time.time() - sent) > window:
        raise Unauthorized("the request is stale (its timestamp is outside the accepted window)")


def _same(expected: str | bytes, sent: str | bytes) -> bool:
    left = expected.encode() if isinstance(expected, str) else expected
    right = sent.encode() if isinstance(sent, str) else sent
    return hmac.compare_digest(left, right)


# -- the answer --------------------------------------------------------------------------------
def language_of(text: str, hint: str | None = None) -> str:
    """The requester's language: the platform's locale when it sends one, else Chinese if the text is."""
    if hint:
        primary = hint.split("-", 1)[0].split("_", 1)[0].lower()
        if primary in ("zh", "en"):
            return primary
    if CJK.search(text):
        return "zh"
    return get_settings().default_lang if not text.strip() else "en"


def _terms(query: str) -> list[str]:
    terms = [w.casefold() for w in WORD.findall(query) if not CJK.search(w) and len(w) > 1]
    for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", query):
        terms.extend(run[i:i + 2] for i in range(max(1, len(run) - 1)))
    return terms


def best_section(article: ArticleView, query: str) -> tuple[str, str]:
    """(heading, anchor) of the section whose text holds the query's words most often ('' when none)."""
    body = article.html or ""
    terms = _terms(query)
    best: tuple[int, str, str] = (0, "", "")
    headings = [h for h in article.toc if h.anchor]
    for n, heading in enumerate(headings):
        start = body.find(f'id="{heading.anchor}"')
        if start < 0:
            continue
        end = len(body)
        if n + 1 < len(headings):
            following = body.find(f'id="{headings[n + 1].anchor}"', start)
            end = following if following > 0 else end
        text = html.unescape(TAGS.sub(" ", body[start:end])).casefold()
        score = sum(text.count(term) for term in terms)
        if score > best[0]:
            best = (score, heading.text, heading.anchor)
    return best[1], best[2]


def answer(query: str, lang: str) -> list[ChatHit]:
    """The top three articles for a chat query, each in the requester's language when translated."""
    result = get_catalog().search(query[:MAX_QUERY_CHARS], {}, limit=TOP_HITS * 3)
    snap = get_snapshot()
    chosen: list[ChatHit] = []
    seen: set[str] = set()
    for hit in result.hits:
        view = snap.by_id.get(hit.id)
        if view is None:
            continue
        if view.lang != lang:
            view = snap.translation(view) or view
        if view.id in seen:
            continue
        seen.add(view.id)
        full = get_catalog().service.get_article(view.id) or view
        section, anchor = best_section(full, query)
        url = url_for("articles.show", article_id=view.id, _external=True, _anchor=anchor or None)
        chosen.append(ChatHit(view.title, section, url))
        if len(chosen) == TOP_HITS:
            break
    return chosen


def _lines(hits: Sequence[ChatHit], query: str, lang: str, link: Callable[[ChatHit], str],
           escape: Callable[[str], str] = str) -> str:
    if not query.strip():
        return translate_to(lang, "Type what you are looking for after the command, e.g. “vpn error 809”.")
    if not hits:
        # The query goes back escaped: it must not turn into the platform's markup or mentions.
        return translate_to(lang, "No articles match “%(query)s”.") % {"query": escape(query.strip()[:100])}
    return "\n".join(f"{n}. {link(hit)}" for n, hit in enumerate(hits, 1))


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markdown_escape(text: str) -> str:
    return re.sub(r"([\\\[\]()*_`#|<>])", r"\\\1", text)


def _markdown_link(hit: ChatHit) -> str:
    section = f" · {_markdown_escape(hit.section)}" if hit.section else ""
    return f"[{_markdown_escape(hit.title)}]({hit.url}){section}"


# -- Slack --------------------------------------------------------------------------------------
def _verify_slack(secret: str) -> None:
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        raise Unauthorized("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    _fresh(timestamp, SLACK_WINDOW_SECONDS)
    base = b"v0:" + timestamp.encode() + b":" + request.get_data(cache=True)
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not _same(expected, signature):
        raise Unauthorized("the Slack signature does not match")


@bp.post("/slack")
@csrf_exempt
def slack() -> Response:
    """A Slack slash command (e.g. `/kb vpn error`): an ephemeral reply with the top three articles."""
    secret = get_settings().slack_signing_secret
    if not secret:
        return _disabled("KB_SLACK_SIGNING_SECRET")
    try:
        _verify_slack(secret)
    except Unauthorized as exc:
        return _unauthorized(str(exc))
    query = request.form.get("text", "")
    lang = language_of(query)

    def link(hit: ChatHit) -> str:
        section = f" · {_slack_escape(hit.section)}" if hit.section else ""
        return f"<{hit.url}|{_slack_escape(hit.title)}>{section}"

    hits = answer(query, lang) if query.strip() else []
    text = _lines(hits, query, lang, link, _slack_escape)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": line}} for line in text.splitlines()]
    return jsonify(response_type="ephemeral", text=text, blocks=blocks)


# -- Microsoft Teams ----------------------------------------------------------------------------
def _verify_teams(secret: str) -> None:
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme != "HMAC" or not sent.strip():
        raise Unauthorized("missing `Authorization: HMAC <signature>`")
    try:
        key = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise Unauthorized("KB_TEAMS_HMAC_SECRET is not the base64 token Teams showed") from None
    expected = base64.b64encode(hmac.new(key, request.get_data(cache=True), hashlib.sha256).digest())
    if not _same(expected, sent.strip().encode()):
        raise Unauthorized("the Teams signature does not match")


def _json_body() -> dict[str, Any]:
    try:
        data = json.loads(request.get_data(cache=True).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    return data if isinstance(data, dict) else {}


@bp.post("/teams")
@csrf_exempt
def teams() -> Response:
    """A Teams outgoing webhook (`@kb vpn error`): a message with the top three articles."""
    secret = get_settings().teams_hmac_secret
    if not secret:
        return _disabled("KB_TEAMS_HMAC_SECRET")
    try:
        _verify_teams(secret)
        activity = _json_body()
        stamp = activity.get("timestamp")
        if isinstance(stamp, str) and stamp:
            _fresh_iso(stamp, TEAMS_WINDOW_SECONDS)
    except Unauthorized as exc:
        return _unauthorized(str(exc))
    text = activity.get("text") if isinstance(activity.get("text"), str) else ""
    query = html.unescape(TAGS.sub(" ", MENTION.sub(" ", str(text)))).strip()
    locale = activity.get("locale") if isinstance(activity.get("locale"), str) else None
    lang = language_of(query, locale)
    hits = answer(query, lang) if query else []
    return jsonify(type="message", textFormat="markdown", text=_lines(hits, query, lang, _markdown_link,
                                                                        _markdown_escape))


def _fresh_iso(value: str, window: float) -> None:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unauthorized("the activity timestamp is not ISO 8601") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    _fresh(str(when.timestamp()), window)


# -- DingTalk -----------------------------------------------------------------------------------
def _verify_dingtalk(secret: str) -> None:
    timestamp = request.headers.get("timestamp", "")
    sent = request.headers.get("sign", "")
    if not timestamp or not sent:
        raise Unauthorized("missing the timestamp or sign header")
    _fresh(timestamp, DINGTALK_WINDOW_SECONDS, scale=1000.0)
    expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                         hashlib.sha256).digest())
    if not _same(expected, sent.encode()):
        raise Unauthorized("the DingTalk sign does not match")


@bp.post("/dingtalk")
@csrf_exempt
def dingtalk() -> Response:
    """A DingTalk outgoing robot (`@kb VPN 报错`): a markdown message with the top three articles."""
    secret = get_settings().dingtalk_app_secret
    if not secret:
        return _disabled("KB_DINGTALK_APP_SECRET")
    try:
        _verify_dingtalk(secret)
    except Unauthorized as exc:
        return _unauthorized(str(exc))
    message = _json_body()
    content = message.get("text", {})
    query = str(content.get("content", "") if isinstance(content, dict) else "").strip()
    lang = language_of(query)
    hits = answer(query, lang) if query else []
    title = translate_to(lang, "Knowledge base")
    return jsonify(msgtype="markdown", markdown={"title": title, "text": _lines(hits, query, lang, _markdown_link,
                                                                                       _markdown_escape)})


# -- Feishu (Lark) ------------------------------------------------------------------------------
def _feishu_text(event: dict[str, Any]) -> str:
    message = event.get("message")
    if not isinstance(message, dict):
        return ""
    raw = message.get("content")
    try:
        content = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        content = {}
    text = content.get("text", "") if isinstance(content, dict) else ""
    return MENTION.sub(" ", str(text)).strip()


@bp.post("/feishu")
@csrf_exempt
def feishu() -> Response:
    """A Feishu message event (or its URL check): the top three articles as a text message."""
    token = get_settings().feishu_verification_token
    if not token:
        return _disabled("KB_FEISHU_VERIFICATION_TOKEN")
    data = _json_body()
    header: dict[str, Any] = data["header"] if isinstance(data.get("header"), dict) else {}
    sent = header.get("token") or data.get("token") or ""
    if not isinstance(sent, str) or not sent or not _same(token, sent):
        return _unauthorized("missing or wrong Feishu verification token")
    if data.get("type") == "url_verification":
        return jsonify(challenge=str(data.get("challenge", "")))
    created = header.get("create_time")
    try:
        if created is None:
            raise Unauthorized("the event has no create_time")
        _fresh(str(created), FEISHU_WINDOW_SECONDS, scale=1000.0)
    except Unauthorized as exc:
        return _unauthorized(str(exc))
    event: dict[str, Any] = data["event"] if isinstance(data.get("event"), dict) else {}
    query = _feishu_text(event)
    lang = language_of(query)
    hits = answer(query, lang) if query else []

    def link(hit: ChatHit) -> str:
        section = f" · {hit.section}" if hit.section else ""
        return f"{hit.title}{section}\n{hit.url}"

    text = _lines(hits, query, lang, link)
    return jsonify(msg_type="text", content={"text": text})


def init_app(app: Flask) -> None:
    """Serve the chat endpoints (each is off until its secret is set)."""
    app.register_blueprint(bp)
