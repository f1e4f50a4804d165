"""Notifications to a team chat or any webhook (KB_NOTIFY_WEBHOOK): flags, broken pushes, reviews due.

One message (a title, lines of text, a link) is shaped for the receiver: generic JSON, or the
group-robot formats of DingTalk, Feishu/Lark, WeCom, Slack and Microsoft Teams. `auto` picks
the format from the webhook's host. Sending never raises: a chat being down must not fail a
flag or a sync; failures are logged (without the webhook URL, which carries its secret).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
MAX_LINES = 30  # robots cap a message's size (DingTalk 20 KB, WeCom 4 KB markdown): keep lists short
HOST_FORMATS = (
    ("oapi.dingtalk.com", "dingtalk"),
    ("open.feishu.cn", "feishu"),
    ("open.larksuite.com", "feishu"),
    ("qyapi.weixin.qq.com", "wecom"),
    ("hooks.slack.com", "slack"),
    ("webhook.office.com", "teams"),
    ("logic.azure.com", "teams"),
    ("powerplatform.com", "teams"),
)


@dataclass(frozen=True)
class Message:
    """What to tell: `kind` (flag, push-failed, review-due), a title, lines, an optional link, and data."""

    kind: str
    title: str
    lines: tuple[str, ...] = ()
    url: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """Title, lines and link as plain text."""
        shown = list(self.lines[:MAX_LINES])
        if len(self.lines) > MAX_LINES:
            shown.append(f"… and {len(self.lines) - MAX_LINES} more")
        return "\n".join([self.title, *shown, *([self.url] if self.url else [])])

    def markdown(self) -> str:
        """The same as Markdown (DingTalk, WeCom, Slack's mrkdwn differs only in links and bold)."""
        shown = [f"- {line}" for line in self.lines[:MAX_LINES]]
        if len(self.lines) > MAX_LINES:
            shown.append(f"- … and {len(self.lines) - MAX_LINES} more")
        link = [f"[{self.url}]({self.url})"] if self.url else []
        return "\n".join([f"**{self.title}**", "", *shown, *(["", *link] if link else [])])


def detect_format(url: str, setting: str = "auto") -> str:
    """The body format for a webhook URL: the setting, or (auto) the one its host implies, else json."""
    if setting != "auto":
        return setting
    host = (urlsplit(url).hostname or "").lower()
    for suffix, fmt in HOST_FORMATS:
        if host == suffix or host.endswith("." + suffix):
            return fmt
    return "json"


def body(message: Message, fmt: str) -> dict[str, Any]:
    """The JSON body one receiver expects."""
    if fmt == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.markdown()}}
    if fmt == "feishu":
        return {"msg_type": "text", "content": {"text": message.text()}}
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": message.markdown()}}
    if fmt == "slack":
        lines = "\n".join(f"• {line}" for line in message.lines[:MAX_LINES])
        link = f"\n<{message.url}>" if message.url else ""
        return {"text": f"*{message.title}*\n{lines}{link}".strip()}
    if fmt == "teams":
        blocks: list[dict[str, Any]] = [{"type": "TextBlock", "text": message.title, "weight": "Bolder",
                                         "size": "Medium", "wrap": True}]
        blocks += [{"type": "TextBlock", "text": line, "wrap": True, "spacing": "None"}
                   for line in message.lines[:MAX_LINES]]
        card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                                "type": "AdaptiveCard", "version": "1.4", "body": blocks}
        if message.url:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": message.url}]
        return {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}
    return {"event": message.kind, "title": message.title, "text": message.text(), "lines": list(message.lines),
            "url": message.url or None, "data": message.data}


def send(webhook: str, message: Message, fmt: str = "auto") -> bool:
    """POST the message; True when the receiver answered 2xx. Never raises."""
    if not webhook:
        return False
    if urlsplit(webhook).scheme not in ("http", "https"):
        log.error("KB_NOTIFY_WEBHOOK must be an http(s) URL; %s notification not sent", message.kind)
        return False
    kind = detect_format(webhook, fmt)
    data = json.dumps(body(message, kind), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(webhook, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "kb-notify"})
    host = urlsplit(webhook).hostname or "?"
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            ok = bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("%s notification to %s (%s) failed: %s", message.kind, host, kind, exc)
        return False
    if not ok:
        log.warning("%s notification to %s (%s) answered %s", message.kind, host, kind, response.status)
    return ok


def send_in_background(webhook: str, message: Message, fmt: str = "auto") -> threading.Thread | None:
    """Send without making the caller (a web request) wait; returns the thread, or None when off."""
    if not webhook:
        return None
    thread = threading.Thread(target=send, args=(webhook, message, fmt), name="kb-notify", daemon=True)
    thread.start()
    return thread
