"""The site in real Chromium (Debian's `chromium`, driven by Playwright), as a new user tries it.

Screenshots of each main page go to test-artifacts/. Without Chromium or Playwright these tests
skip on a workstation but fail in CI (CI=true), where `.ci/run` installs both.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import REPO
from tests.test_web_fixtures import LONG_ERROR

pytest_plugins = ("tests.test_web_fixtures",)

CHROMIUM = os.environ.get("KB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests must run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def base_url(app: Flask) -> Iterator[str]:
    """The test app served over real HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    """A fresh browser context (own cookies and localStorage) that records console errors."""
    context = browser.new_context(base_url=base_url, locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.console_errors = []
    tab.on("console", lambda msg: tab.console_errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: tab.console_errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()


def shot(page: Any, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def test_search_and_narrow_by_a_facet(page: Any) -> None:
    page.goto("/")
    shot(page, "home")
    page.get_by_label("Search the knowledge base").fill("windows")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=windows")
    assert page.locator(".hit").count() >= 2
    shot(page, "search-results")
    page.locator(".facets").get_by_role("link", name="VPN").click()
    page.wait_for_url(lambda url: "category=network/vpn" in url or "category=network%2Fvpn" in url)
    titles = page.locator(".hit h2 a").all_inner_texts()
    assert titles and all("VPN" in t for t in titles)
    assert page.locator(".active-filters").is_visible()
    shot(page, "search-narrowed")
    assert page.console_errors == []


def test_open_an_article(page: Any) -> None:
    page.goto("/search?q=vpn+809")
    page.locator(".hit h2 a", has_text="VPN fails with error 809").click()
    page.wait_for_url("**/articles/vpn-error-809?s=*")  # through the click log, carrying the search id
    assert page.get_by_role("heading", level=1).inner_text() == "VPN fails with error 809"
    assert page.locator(".toc a[href='#resolution']").is_visible()
    assert page.locator(".banner.warning").is_visible()
    assert page.locator(".copy-button").count() >= 1
    page.locator(".toc a[href='#cause']").click()
    assert page.evaluate("location.hash") == "#cause"
    shot(page, "article")
    page.get_by_role("link", name="Read in 中文: VPN 连接失败，错误 809").click()
    page.wait_for_url("**/articles/vpn-error-809-zh")
    assert page.console_errors == []


def test_copy_button_copies_the_code(page: Any) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/articles/vpn-error-809")
    page.locator(".copy-button").first.click()
    page.wait_for_function("document.querySelector('.copy-button').textContent === 'Copied'")
    assert "Set-VpnConnection" in page.evaluate("navigator.clipboard.readText()")


def test_switch_language_and_it_sticks(page: Any) -> None:
    page.goto("/categories")
    page.get_by_label("Interface language").select_option("zh")
    page.wait_for_load_state()
    page.wait_for_function("document.documentElement.lang === 'zh-Hans'")
    assert page.get_by_role("heading", level=1).inner_text() == "工单分类"
    assert page.url.endswith("/categories")
    page.goto("/onboarding/")
    assert page.get_by_role("heading", level=1).inner_text() == "入职学习路径"
    shot(page, "language-zh")
    page.goto("/")
    shot(page, "home-zh")
    assert page.console_errors == []


def test_onboarding_progress_survives_a_reload(page: Any) -> None:
    page.goto("/onboarding/basics")
    boxes = page.locator("input[data-step]")
    assert boxes.count() == 3
    boxes.nth(0).check()
    boxes.nth(2).check()
    assert "2/3" in page.locator(".progress").inner_text()
    page.reload()
    boxes = page.locator("input[data-step]")
    assert [boxes.nth(i).is_checked() for i in range(3)] == [True, False, True]
    assert "2/3" in page.locator(".progress").inner_text()
    shot(page, "onboarding")
    page.get_by_role("button", name="Reset progress").click()
    assert not boxes.nth(0).is_checked()
    page.goto("/onboarding/")
    assert "0/3" in page.locator("[data-progress-for='basics']").inner_text()


def test_alias_redirects_to_the_article(page: Any) -> None:
    response = page.goto("/articles/vpn-809")
    assert page.url.endswith("/articles/vpn-error-809")
    assert response.status == 200 and response.request.redirected_from is not None
    assert response.request.redirected_from.response().status == 301


def test_search_as_you_type(page: Any) -> None:
    page.goto("/")
    box = page.get_by_role("combobox", name="Search the knowledge base")
    box.press_sequentially("outlook pass", delay=40)
    options = page.locator(".suggestions").get_by_role("option")
    options.first.wait_for()
    assert "Outlook keeps asking for a password" in options.all_inner_texts()
    shot(page, "search-as-you-type", full_page=False)
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url("**/articles/**")
    assert page.get_by_role("heading", level=1).inner_text() == "Outlook keeps asking for a password"


def test_works_without_javascript(browser: Any, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/")
        page.get_by_label("Interface language").select_option("zh")
        page.get_by_role("button", name="Switch").click()
        page.wait_for_url(base_url + "/")
        assert page.get_by_role("heading", level=1).inner_text() == "搜索知识库"
        page.get_by_label("搜索知识库").fill("printer")
        page.get_by_role("button", name="搜索").first.click()
        page.wait_for_url("**/search?q=printer")
        assert page.locator(".hit").count() == 10
    finally:
        context.close()


def test_keyboard_first_stop_is_the_skip_link(page: Any) -> None:
    page.goto("/articles/vpn-error-809")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#content"


def test_phone_layout(browser: Any, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        for url, name in (("/", "phone-home"), ("/articles/vpn-error-809", "phone-article"),
                          ("/search?q=printer", "phone-search")):
            page.goto(url)
            # Nothing wider than the screen: no sideways scrolling on a phone.
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
            shot(page, name)
    finally:
        context.close()


def test_other_pages_render_without_console_errors(page: Any) -> None:
    for url, name in (("/search?q=zzzxqy", "zero-results"), ("/categories/network", "category"),
                      ("/review-due", "review-due"), ("/recent", "recent"), ("/no-such-page", "not-found")):
        page.goto(url)
        shot(page, name)
    assert page.console_errors == [x for x in page.console_errors if "404" in x]


# -- the reader (issue 15) ------------------------------------------------------------------------

MAIN_PAGES = (("/", "home"), ("/search?q=printer", "search"), ("/articles/vpn-error-809", "article"),
              ("/articles/vpn-error-809-zh", "article-zh"), ("/onboarding/basics", "onboarding"),
              ("/categories", "categories"))
PHONE = {"width": 390, "height": 844}


def _luminance(css_color: str) -> float:
    """Relative luminance (WCAG) of a computed `rgb(...)` / `rgba(...)` colour."""
    channels = [float(v) / 255 for v in css_color[css_color.index("(") + 1:-1].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _code_contrast(page: Any) -> float:
    """Contrast of the least readable highlighted token against its code block's background."""
    colours = page.evaluate("""() => {
      const pre = document.querySelector('.article-body pre');
      const bg = getComputedStyle(pre).backgroundColor;
      const spans = [pre.querySelector('code'), ...pre.querySelectorAll('code span')];
      return [bg, spans.map(s => getComputedStyle(s).color)];
    }""")
    background, tokens = colours
    return min(_contrast(background, c) for c in tokens)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_main_pages_in_light_and_dark_with_readable_code(browser: Any, base_url: str, scheme: str) -> None:
    context = browser.new_context(base_url=base_url, color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        for url, name in MAIN_PAGES:
            page.goto(url)
            shot(page, f"{name}-{scheme}")
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            page_bg = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
            colour = page.evaluate("getComputedStyle(document.body).color")
            if scheme == "dark":
                assert _luminance(page_bg) < 0.05, (url, page_bg, background)
            else:
                assert _luminance(page_bg) > 0.9, (url, page_bg)
            assert _contrast(page_bg, colour) >= 7, (url, page_bg, colour)
        page.goto("/articles/vpn-error-809")
        assert _code_contrast(page) >= 4.5
        assert errors == []
    finally:
        context.close()


def test_theme_toggle_sticks_across_pages_and_reloads(page: Any) -> None:
    page.goto("/articles/vpn-error-809")
    toggle = page.get_by_role("button", name="Dark theme")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert _luminance(page.evaluate("getComputedStyle(document.documentElement).backgroundColor")) < 0.05
    assert _code_contrast(page) >= 4.5
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.goto("/categories")
    assert page.get_by_role("button", name="Dark theme").get_attribute("aria-pressed") == "true"
    assert _luminance(page.evaluate("getComputedStyle(document.documentElement).backgroundColor")) < 0.05
    page.get_by_role("button", name="Dark theme").click()
    page.reload()
    assert _luminance(page.evaluate("getComputedStyle(document.documentElement).backgroundColor")) > 0.9
    assert page.console_errors == []


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_print_view_is_the_article_alone_on_few_pages(page: Any) -> None:
    page.goto("/articles/vpn-error-809")
    screen_pages = None
    page.emulate_media(media="screen")
    screen_pages = _pdf_pages(page.pdf(format="A4"))
    page.emulate_media(media="print")
    hidden = page.evaluate("""() => ['.site-header', '.record-resolution', '.flag', '.toc', '.copy-button',
        '.related', '.site-footer'].map(s => document.querySelector(s))
        .filter(e => e && getComputedStyle(e).display !== 'none').map(e => e.className)""")
    assert hidden == []
    assert page.evaluate("getComputedStyle(document.querySelector('.article-body pre')).whiteSpace") == "pre-wrap"
    page.screenshot(path=str(ARTIFACTS / "article-print.png"), full_page=True)
    printed = page.pdf(format="A4")
    (ARTIFACTS / "article-print.pdf").write_bytes(printed)
    assert 1 <= _pdf_pages(printed) <= 2 < screen_pages, (_pdf_pages(printed), screen_pages)


def test_the_screenshot_beside_the_article_is_shown(page: Any) -> None:
    page.goto("/articles/vpn-error-809")
    image = page.get_by_role("img", name="The VPN settings dialog with IKEv2 selected")
    image.scroll_into_view_if_needed()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) == 240
    response = page.request.get(image.get_attribute("src"))
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in response.headers["cache-control"]
    assert page.console_errors == []


def test_admonitions_are_told_apart_by_colour_and_icon_in_both_languages(page: Any) -> None:
    page.goto("/articles/vpn-error-809")
    boxes = page.evaluate("""() => [...document.querySelectorAll('.article-body .admonition')].map(b => ({
        kind: b.className.replace('admonition', '').trim(),
        title: b.querySelector('.admonition-title').textContent,
        colour: getComputedStyle(b).borderLeftColor,
        icon: getComputedStyle(b.querySelector('.admonition-title'), '::before').maskImage
            || getComputedStyle(b.querySelector('.admonition-title'), '::before').webkitMaskImage}))""")
    assert [b["kind"] for b in boxes] == ["note", "tip", "important", "warning", "caution"]
    assert [b["title"] for b in boxes] == ["Note", "Tip", "Important", "Warning", "Caution"]
    assert len({b["colour"] for b in boxes}) == 5
    assert len({b["icon"] for b in boxes}) == 5 and all(b["icon"].startswith("url(") for b in boxes)
    page.locator(".article-body .admonition.warning").scroll_into_view_if_needed()
    shot(page, "admonitions", full_page=False)
    page.goto("/articles/vpn-error-809-zh")
    assert page.locator(".article-body .admonition.warning .admonition-title").inner_text() == "警告"


def test_heading_permalinks_and_breadcrumbs(page: Any) -> None:
    page.goto("/articles/vpn-error-809")
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    assert crumbs.get_by_role("link").all_inner_texts() == ["Home", "Network", "VPN"]
    heading = page.get_by_role("heading", name="Resolution")
    heading.hover()
    link = page.get_by_role("link", name="Link to this section").nth(1)
    assert link.get_attribute("href") == "#resolution"
    link.click()
    assert page.evaluate("location.hash") == "#resolution"


def test_contents_stay_in_view_on_wide_screens(page: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 500})
    page.goto("/articles/vpn-error-809")
    page.evaluate("document.getElementById('resolution').scrollIntoView()")  # the reader reaches "Resolution"
    assert page.evaluate("window.scrollY") > 500  # past the details panel above the contents
    toc = page.locator(".toc").bounding_box()
    assert 0 <= toc["y"] < 500 and toc["y"] + toc["height"] <= 500, toc
    # It marks the section being read.
    current = "() => (document.querySelector('.toc a[aria-current]') || {}).hash"
    page.wait_for_timeout(200)
    assert page.evaluate(current) == "#resolution"
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    assert page.evaluate(current) == "#issue"


def test_slash_and_ctrl_k_focus_search_and_escape_closes_suggestions(page: Any) -> None:
    page.goto("/articles/vpn-error-809")
    page.locator("h1").click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.type("outl")
    page.locator(".suggestions li").first.wait_for()
    page.keyboard.press("Escape")
    assert page.locator(".suggestions").is_hidden()
    page.locator("h1").click()
    page.keyboard.press("Control+k")
    assert page.evaluate("document.activeElement.name") == "q"
    # Typing "/" in a form field types it.
    page.locator("summary", has_text="Flag as wrong or outdated").click()
    page.locator("#flag-reason").click()
    page.keyboard.type("a/b")
    assert page.locator("#flag-reason").input_value() == "a/b"


def test_completion_box_marks_the_typed_part_and_offers_all_results(page: Any) -> None:
    page.goto("/")
    box = page.get_by_role("combobox", name="Search the knowledge base")
    box.press_sequentially("outl", delay=30)
    options = page.locator(".suggestions").get_by_role("option")
    options.first.wait_for()
    assert options.first.inner_text() == "Outlook keeps asking for a password"
    assert options.first.locator("mark").inner_text() == "Outl"
    assert options.last.inner_text() == "See all results for “outl”"
    assert not any(t.strip().lower() == "out" for t in options.all_inner_texts())  # never corrected
    shot(page, "completion", full_page=False)
    box.fill("")
    box.press_sequentially("0x8007", delay=30)
    page.locator(".suggestions mark", has_text="0x8007").first.wait_for()
    assert LONG_ERROR in options.all_inner_texts()
    box.press("ArrowUp")  # the last row: all results
    assert options.last.get_attribute("aria-selected") == "true"
    box.press("Enter")
    page.wait_for_url(lambda url: url.endswith("/search?q=0x8007"))
    assert page.console_errors == []


def test_copy_works_over_plain_http(browser: Any, base_url: str) -> None:
    """navigator.clipboard exists only on secure origins; an intranet name over HTTP is not one."""
    port = base_url.rsplit(":", 1)[1]
    intranet = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                           args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP kb.intranet 127.0.0.1"])
    try:
        page = intranet.new_page(base_url=f"http://kb.intranet:{port}")
        page.goto("/articles/vpn-error-809")
        assert page.evaluate("window.isSecureContext") is False
        assert page.evaluate("typeof navigator.clipboard") == "undefined"
        page.evaluate("""() => document.addEventListener('copy', (e) => {
            window.copied = (e.target && e.target.value) || String(document.getSelection()); })""")
        button = page.get_by_role("button", name="Copy").first
        code_box = page.locator(".article-body pre").first.bounding_box()
        button_box = button.bounding_box()
        assert button_box["y"] + button_box["height"] <= code_box["y"]  # above the code, never over it
        button.click()
        page.wait_for_function("document.querySelector('.copy-button').textContent === 'Copied'")
        assert page.evaluate("window.copied") == 'Set-VpnConnection -Name "Office" -TunnelType Ikev2'
    finally:
        intranet.close()


def test_recently_viewed_articles_on_the_home_page(page: Any) -> None:
    page.goto("/")
    assert page.locator("[data-recently-viewed]").is_hidden()
    page.goto("/articles/outlook-password-prompt")
    page.goto("/articles/vpn-error-809-zh")
    page.goto("/")
    viewed = page.get_by_role("region", name="Recently viewed")
    assert viewed.get_by_role("link").all_inner_texts() == [
        "VPN 连接失败，错误 809", "Outlook keeps asking for a password"]
    viewed.get_by_role("link").first.click()
    page.wait_for_url("**/articles/vpn-error-809-zh")


def test_onboarding_steps_are_numbered_with_a_progress_bar_and_articles_say_step_n_of_m(page: Any) -> None:
    page.goto("/onboarding/basics")
    assert page.locator(".checklist .step-number").all_inner_texts() == ["1", "2", "3"]
    bar = page.get_by_role("progressbar", name="Progress")
    assert bar.get_attribute("max") == "3" and page.evaluate("document.querySelector('progress').value") == 0
    page.locator("input[data-step]").nth(0).check()
    assert page.evaluate("document.querySelector('progress').value") == 1
    page.get_by_role("link", name="Step 2: Outlook keeps asking for a password").click()
    nav = page.get_by_role("navigation", name="Onboarding path: Basics for new staff")
    assert "step 2 of 3" in nav.inner_text()
    shot(page, "article-in-path", full_page=False)
    nav.get_by_role("link", name="next →").click()
    page.wait_for_url("**/articles/ticket-lifecycle-zh")
    nav = page.get_by_role("navigation", name="Onboarding path: Basics for new staff")
    assert "step 3 of 3" in nav.inner_text()
    nav.get_by_role("link", name="← previous").click()
    page.wait_for_url("**/articles/outlook-password-prompt")


def test_phone_header_is_compact_and_filters_open_from_a_drawer(browser: Any, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        for url, name in MAIN_PAGES:
            page.goto(url)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], url
            header = page.locator(".site-header").bounding_box()
            assert header["height"] <= 0.2 * PHONE["height"], (url, header)
            shot(page, f"phone-{name}")
        page.goto("/search?q=printer")
        facets = page.locator(".facets")
        assert facets.is_hidden()
        filters = page.get_by_role("button", name="Filters")
        assert filters.bounding_box()["y"] < page.locator(".hit").first.bounding_box()["y"]
        filters.click()
        assert facets.is_visible()
        assert facets.bounding_box()["y"] < page.locator(".hit").first.bounding_box()["y"]
        shot(page, "phone-search-filters")
        page.get_by_role("button", name="Menu").click()
        assert page.get_by_role("link", name="Onboarding").is_visible()
        shot(page, "phone-menu", full_page=False)
    finally:
        context.close()
