"""The web site through Flask's test client, on a tiny knowledge base built into a real index."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kb.config import Settings
from search.build import build_index
from search.results import SearchRequest
from search.service import SearchService
from tests.test_web_fixtures import XSS, web_settings, write_knowledge_base
from web.app import create_app
from web.i18n import ZH, choose_language
from web.security import safe_next

pytest_plugins = ("tests.test_web_fixtures",)

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


def html_of(client: FlaskClient, url: str, status: int = 200, **kwargs: Any) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:500])
    return response.get_data(as_text=True)


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k.lower(): v or "" for k, v in attrs}))


def parse_tags(page: str) -> list[tuple[str, dict[str, str]]]:
    """Every start tag with its attributes, as a browser's tokenizer sees them."""
    collector = _TagCollector()
    collector.feed(page)
    collector.close()
    return collector.tags


def csrf_from(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


# -- every page: headers, no inline script or style ---------------------------------------------

PAGES = ["/", "/search?q=vpn", "/search?q=zzzxqy", "/articles/vpn-error-809", "/categories", "/categories/network",
         "/tags/windows", "/products/windows", "/onboarding/", "/onboarding/basics", "/recent", "/review-due",
         "/no-such-page"]


@pytest.mark.parametrize("url", PAGES)
def test_pages_send_security_headers_and_no_inline_code(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code in (200, 404)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    tags = parse_tags(response.get_data(as_text=True))
    assert all(attrs.get("src") for tag, attrs in tags if tag == "script"), "inline script"
    assert not [tag for tag, attrs in tags if tag == "style" or "style" in attrs], "inline style"
    assert not [(tag, attrs) for tag, attrs in tags if any(a.startswith("on") for a in attrs)], "event handler"
    assets = [attrs.get("src") or attrs.get("href") or "" for tag, attrs in tags if tag in ("script", "link", "img")]
    assert [a for a in assets if "//" in a] == [], "external asset"


def test_static_assets_are_served_locally(client: FlaskClient) -> None:
    for url in ("/static/kb.css", "/static/kb.js", "/static/theme.js", "/static/favicon.svg", "/pygments.css"):
        with client.get(url) as response:  # static files are streamed: close them
            assert response.status_code == 200, url
    assert client.get("/pygments.css").mimetype == "text/css"


# -- home ----------------------------------------------------------------------------------------

def test_home_shows_search_box_categories_with_counts_onboarding_and_recent(client: FlaskClient) -> None:
    page = html_of(client, "/")
    assert page.index('type="search"') < page.index("Ticket categories")
    assert re.search(r'href="/categories/printing">Printing</a>\s*<span class="count">23</span>', page)
    assert re.search(r'href="/categories/network">Network</a>\s*<span class="count">2</span>', page)  # not archived
    assert 'href="/onboarding/basics"' in page and "Basics for new staff" in page
    assert "Recently updated" in page and "Draft Wi-Fi" not in page


def test_home_lists_the_most_used_solutions_once_tickets_are_recorded(tmp_path: Path) -> None:
    settings = web_settings(write_knowledge_base(tmp_path / "articles"), tmp_path / "index")
    build_index(settings)
    app = create_app({"KB_SETTINGS": settings})
    if "records" not in app.blueprints:
        pytest.skip("the records blueprint is not registered in this checkout")
    with app.test_client() as client:
        assert "Shown once resolved tickets are recorded." in html_of(client, "/")
        token = csrf_from(html_of(client, "/articles/outlook-password-prompt"))
        for ticket, article in (("INC-1", "outlook-password-prompt"), ("INC-2", "outlook-password-prompt"),
                                ("INC-3", "vpn-error-809")):
            response = client.post(f"/articles/{article}/resolutions",
                                   data={"csrf_token": token, "ticket_id": ticket, "category": "email"})
            assert response.status_code == 303
        page = html_of(client, "/")
        most_used = page[page.index('class="article-list most-used"'):]
        assert re.search(r'outlook-password-prompt"[^>]*>Outlook keeps asking for a password</a>\s*'
                         r'<span class="count" title="tickets">2</span>', most_used)
        assert most_used.index("outlook-password-prompt") < most_used.index("vpn-error-809")
        # The category page lists the most-used solutions first as well.
        email = html_of(client, "/categories/email")
        assert email.index("/articles/outlook-password-prompt") < email.index("/articles/xss-article")


# -- search results ------------------------------------------------------------------------------

def test_search_shows_highlighted_snippets_count_and_time(client: FlaskClient) -> None:
    page = html_of(client, "/search?q=VPN+809")
    # result links go through the click route (web/records.py) to the article
    assert re.search(r'href="/go/\d+/vpn-error-809"', page)
    assert "<mark>" in page
    assert re.search(r'class="result-count"[^>]*>\d+ results? · Search took \d+ ms', page)


def test_search_facets_have_counts_and_narrow_the_results(client: FlaskClient) -> None:
    page = html_of(client, "/search?q=printer")
    assert re.search(r'>Printing</a> <span class="count">23</span>', page)
    narrowed = html_of(client, "/search?q=printer&state=validated")
    assert re.search(r"12 results", narrowed)
    assert "Clear filters" in narrowed
    by_category = html_of(client, "/search?q=error&category=network%2Fvpn")
    assert "printer-jam" not in by_category


def test_search_paginates(client: FlaskClient) -> None:
    first = html_of(client, "/search?q=printer")
    # later pages carry the logged search's id, so paging is not logged as new searches
    assert 'rel="next"' in first and re.search(r'href="/search\?q=printer&amp;page=2&amp;sid=\d+"', first)
    second = html_of(client, "/search?q=printer&page=2")
    assert 'rel="prev"' in second and 'start="11"' in second
    third = html_of(client, "/search?q=printer&page=3")
    assert 'rel="next"' not in third


def test_corrected_search_says_so_and_offers_the_query_as_typed(client: FlaskClient) -> None:
    # The site builds its spelling correctors in the background (never in a request): wait for them.
    deadline = time.monotonic() + 60
    while "Showing results for" not in html_of(client, "/search?q=printr+jam") and time.monotonic() < deadline:
        time.sleep(0.05)
    page = html_of(client, "/search?q=printr+jam")
    assert "Showing results for" in page and 'href="/search?q=printer+jam"' in page
    assert "Search instead for" in page and 'href="/search?q=printr+jam&amp;verbatim=1"' in page
    assert "Did you mean" not in page  # the results are already the corrected query's
    verbatim = html_of(client, "/search?q=printr+jam&verbatim=1")
    assert "Showing results for" not in verbatim


def test_a_query_with_no_searchable_word_says_so(client: FlaskClient) -> None:
    page = html_of(client, "/search?q=%3F%3F%3F")
    assert "no searchable words" in page and 'class="hit"' not in page
    data = client.get("/api/search?q=---").get_json()
    assert data["total"] == 0 and "no searchable words" in data["notice"]


def test_zero_results_suggest_categories_and_a_new_article(client: FlaskClient) -> None:
    page = html_of(client, "/search?q=zzzxqy")
    assert "No articles match" in page
    assert 'href="/categories/network"' in page
    assert "kb new --type problem --lang en zzzxqy" in page
    assert "https://git.example.com/kb/-/edit/main/articles/" in page


def test_empty_search_shows_the_form(client: FlaskClient) -> None:
    page = html_of(client, "/search")
    assert 'name="q"' in page and "No articles match" not in page


def test_archived_and_draft_articles_are_not_in_results(client: FlaskClient) -> None:
    assert "old-dialup" not in html_of(client, "/search?q=dial-up+modem")
    assert "draft-wifi" not in html_of(client, "/search?q=wi-fi+notes")


def test_garbage_page_numbers_do_not_break_search(client: FlaskClient) -> None:
    assert client.get("/search?q=printer&page=abc").status_code == 200
    assert client.get("/search?q=printer&page=-4").status_code == 200


def test_pasted_syntax_is_searched_and_a_request_the_index_rejects_is_a_400_that_says_why(
        client: FlaskClient) -> None:
    page = html_of(client, "/search?q=*a*")  # never refused for its syntax
    assert "Bad request" not in page and 'type="search"' in page
    response = client.get("/api/search?q=vpn&page=500&limit=100")
    assert response.status_code == 400 and "cannot be paged" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["*", "*a*", "(" * 3000, "x" * 100_000, "a:[0 TO 99999999999]"])
def test_hostile_queries_get_a_page_or_a_clear_400(client: FlaskClient, query: str) -> None:
    response = client.get("/search", query_string={"q": query})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "Bad request" in response.get_data(as_text=True)


# -- articles ------------------------------------------------------------------------------------

def test_article_page_has_body_toc_metadata_and_links(client: FlaskClient) -> None:
    page = html_of(client, "/articles/vpn-error-809")
    assert "<h1>VPN fails with error 809</h1>" in page
    assert 'href="#resolution"' in page and 'id="resolution"' in page  # table of contents
    assert "Set-VpnConnection" in page  # code block
    assert 'href="/categories/network/vpn">VPN</a>' in page
    assert 'href="/tags/error-code">Error code</a>' in page
    assert 'href="/products/windows">Windows 11</a>' in page
    assert "network-team" in page and "<code>Error 809</code>" in page
    assert 'class="badge state-validated"' in page
    assert 'href="https://git.example.com/kb/-/edit/main/articles/en/network/vpn-error-809.md"' in page
    assert 'href="https://git.example.com/kb/-/commits/main/articles/en/network/vpn-error-809.md"' in page
    assert 'id="record-resolution"' in page
    assert 'action="/articles/vpn-error-809/flag"' in page


def test_overdue_article_shows_the_outdated_banner(client: FlaskClient) -> None:
    assert "Possibly outdated" in html_of(client, "/articles/vpn-error-809")
    assert "Possibly outdated" not in html_of(client, "/articles/vpn-error-809-zh")


def test_article_links_to_its_translation_both_ways(client: FlaskClient) -> None:
    assert 'hreflang="zh" lang="zh">Read in 中文' in html_of(client, "/articles/vpn-error-809")
    assert 'href="/articles/vpn-error-809"' in html_of(client, "/articles/vpn-error-809-zh")


def test_article_lists_related_articles(client: FlaskClient) -> None:
    page = html_of(client, "/articles/vpn-error-809")
    related = page[page.index('id="related-heading"'):]
    assert 'href="/articles/outlook-password-prompt"' in related
    assert 'href="/articles/vpn-error-809-zh"' not in related  # the translation has its own link


def test_internal_links_in_the_body_point_at_the_article_route(client: FlaskClient) -> None:
    page = html_of(client, "/articles/vpn-error-809")
    body = page[page.index('class="article-body"'):page.index('class="article-side"')]
    target = re.search(r'href="(/articles/outlook-password-prompt)"', body)
    assert target
    assert client.get(target.group(1)).status_code == 200


@pytest.mark.parametrize("old", ["/articles/vpn-809", "/articles/VPN-Error-809", "/articles/network/old-vpn-page.md",
                                 "/articles/network/old-vpn-page", "/network/old-vpn-page.md", "/vpn-809"])
def test_aliases_and_old_paths_redirect_permanently(client: FlaskClient, old: str) -> None:
    response = client.get(old)
    assert response.status_code == 301
    assert response.headers["Location"] == "/articles/vpn-error-809"


def test_unknown_article_is_a_404_with_a_search_box(client: FlaskClient) -> None:
    page = html_of(client, "/articles/no-such-article", status=404)
    assert "Page not found" in page and 'type="search"' in page


def test_drafts_are_not_served(client: FlaskClient) -> None:
    assert client.get("/articles/draft-wifi").status_code == 404


def test_archived_article_is_still_readable(client: FlaskClient) -> None:
    assert 'class="badge state-archived"' in html_of(client, "/articles/old-dialup")


def test_flagging_an_article_needs_a_csrf_token(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    assert client.post("/articles/vpn-error-809/flag", data={"reason": "wrong"}).status_code == 400
    token = csrf_from(html_of(client, "/articles/vpn-error-809"))
    response = client.post("/articles/vpn-error-809/flag", data={"reason": "step 2 fails", "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/articles/vpn-error-809#flags"
    # no KB_NOTIFY_WEBHOOK here: the page says where the flag is, not that anyone was told
    page = html_of(client, "/articles/vpn-error-809")
    assert "the flag is shown on this article" in page and "step 2 fails" in page
    assert any("step 2 fails" in r.getMessage() for r in caplog.records)


# -- browse --------------------------------------------------------------------------------------

def test_category_page_lists_solutions_best_first_with_subcategories(client: FlaskClient) -> None:
    page = html_of(client, "/categories/network")
    assert 'href="/categories/network/vpn"' in page
    assert "old-dialup" not in page
    printing = html_of(client, "/categories/printing")
    assert printing.index("Printer 1 paper jam") < printing.index("Printer 2 paper jam")  # validated first


def test_long_listings_are_paged(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import web.browse

    monkeypatch.setattr(web.browse, "PER_PAGE", 10)
    first = html_of(client, "/categories/printing")
    assert first.count('href="/articles/printer-jam-') == 10
    assert 'rel="next" href="/categories/printing?page=2"' in first and 'rel="prev"' not in first
    last = html_of(client, "/categories/printing?page=3")
    assert last.count('href="/articles/printer-jam-') == 3 and 'rel="next"' not in last
    assert html_of(client, "/categories/printing?page=99").count('href="/articles/printer-jam-') == 3
    assert client.get("/tags/windows?page=x").status_code == 200


def test_tag_and_product_pages(client: FlaskClient) -> None:
    assert 'href="/articles/outlook-password-prompt"' in html_of(client, "/tags/windows")
    assert 'href="/articles/outlook-password-prompt"' in html_of(client, "/products/outlook")
    assert 'href="/articles/vpn-error-809"' in html_of(client, "/products/windows")


@pytest.mark.parametrize("url", ["/categories/nope", "/tags/nope", "/products/nope", "/onboarding/nope"])
def test_unknown_vocabulary_pages_are_404(client: FlaskClient, url: str) -> None:
    assert client.get(url).status_code == 404


def test_categories_index(client: FlaskClient) -> None:
    assert 'href="/categories/email/outlook"' in html_of(client, "/categories")


# -- onboarding ----------------------------------------------------------------------------------

def test_onboarding_path_is_an_ordered_checklist(client: FlaskClient) -> None:
    assert 'href="/onboarding/basics"' in html_of(client, "/onboarding/")
    page = html_of(client, "/onboarding/basics")
    steps = re.findall(r'data-step="([^"]+)"', page)
    assert steps == ["vpn-error-809", "outlook-password-prompt", "ticket-lifecycle-zh"]
    assert 'data-checklist="basics"' in page and 'type="checkbox"' in page


# -- recent changes, review due, feed, sitemap, OpenSearch --------------------------------------

def test_recent_changes_show_when_each_article_last_changed(client: FlaskClient) -> None:
    page = html_of(client, "/recent")
    # Outside git the file's modification time stands in for the last commit.
    assert re.search(r'Updated <time datetime="\d{4}-\d\d-\d\d">', page)
    feed = client.get("/feed.atom").get_data(as_text=True)
    assert "2000-01-01" not in feed


def test_recent_changes_and_review_due(client: FlaskClient) -> None:
    assert 'href="/articles/' in html_of(client, "/recent")
    page = html_of(client, "/review-due")
    assert "network-team" in page and 'href="/articles/vpn-error-809"' in page
    assert "vpn-error-809-zh" not in page


def test_atom_feed_is_valid_xml(client: FlaskClient) -> None:
    response = client.get("/feed.atom")
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.data)
    entries = root.findall("{http://www.w3.org/2005/Atom}entry")
    assert entries and all(e.find("{http://www.w3.org/2005/Atom}updated") is not None for e in entries)


def test_sitemap_lists_articles_not_drafts(client: FlaskClient) -> None:
    root = ET.fromstring(client.get("/sitemap.xml").data)
    locs = [e.text or "" for e in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert "http://localhost/articles/vpn-error-809" in locs
    assert not any("draft-wifi" in loc for loc in locs)
    assert "Sitemap: http://localhost/sitemap.xml" in client.get("/robots.txt").get_data(as_text=True)


def test_opensearch_description(client: FlaskClient) -> None:
    response = client.get("/opensearch.xml")
    assert response.mimetype == "application/opensearchdescription+xml"
    root = ET.fromstring(response.data)
    urls = [u.get("template") for u in root.findall("{http://a9.com/-/spec/opensearch/1.1/}Url")]
    assert "http://localhost/search?q={searchTerms}" in urls
    assert 'rel="search"' in html_of(client, "/")


# -- language ------------------------------------------------------------------------------------

def test_accept_language_chooses_the_interface_language(client: FlaskClient) -> None:
    page = html_of(client, "/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-Hans">' in page and "工单分类" in page and "网络" in page
    assert "Ticket categories" in html_of(client, "/", headers={"Accept-Language": "fr, en;q=0.5"})


def test_language_switch_sticks_and_goes_back(client: FlaskClient) -> None:
    token = csrf_from(html_of(client, "/categories"))
    response = client.post("/language", data={"lang": "zh", "next": "/categories", "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/categories"
    page = html_of(client, "/categories", headers={"Accept-Language": "en"})
    assert "工单分类" in page
    assert "2026年" in html_of(client, "/articles/vpn-error-809-zh")


def test_language_switch_needs_csrf_and_never_redirects_off_site(client: FlaskClient) -> None:
    assert client.post("/language", data={"lang": "zh", "next": "/"}).status_code == 400
    token = csrf_from(html_of(client, "/"))
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = client.post("/language", data={"lang": "zh", "next": target, "csrf_token": token})
        assert response.headers["Location"] == "/", target


def test_choose_language() -> None:
    assert choose_language("zh", [("en", 1.0)], "en") == "zh"
    assert choose_language(None, [("zh-TW", 1.0)], "en") == "zh"
    assert choose_language("fr", [("de", 1.0)], "zh") == "zh"
    assert choose_language(None, [], "xx") == "en"


def test_safe_next_keeps_only_local_paths() -> None:
    assert safe_next("/search?q=a", "/") == "/search?q=a"
    assert safe_next("http://evil", "/") == "/"
    assert safe_next(None, "/x") == "/x"


def test_every_template_message_has_a_chinese_translation() -> None:
    messages: set[str] = set()
    for template in TEMPLATES.rglob("*.*"):
        text = template.read_text(encoding="utf-8")
        messages.update(re.findall(r"""_\('([^']+)'\)""", text))
        messages.update(re.findall(r'''_\("([^"]+)"\)''', text))
    assert messages
    assert sorted(m for m in messages if m not in ZH) == []


# -- errors --------------------------------------------------------------------------------------

def test_no_index_is_a_503_that_names_the_build_command(tmp_path: Path) -> None:
    articles = write_knowledge_base(tmp_path / "articles", [])
    app = create_app({"KB_SETTINGS": web_settings(articles, tmp_path / "index")})
    with app.test_client() as client:
        response = client.get("/")
        assert response.status_code == 503
        page = response.get_data(as_text=True)
        assert f"kb build --articles {articles} --index {tmp_path / 'index'}" in page
        api = client.get("/api/search?q=vpn")
        assert api.status_code == 503 and "kb build" in api.get_json()["message"]


def test_a_newly_swapped_index_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    from tests.test_web_fixtures import ARTICLES, article

    articles = write_knowledge_base(tmp_path / "articles", ARTICLES)
    settings = web_settings(articles, tmp_path / "index")
    build_index(settings)
    app = create_app({"KB_SETTINGS": settings})
    with app.test_client() as client:
        assert client.get("/articles/new-one").status_code == 404
        rel, text = article("en/new-one.md", "Brand new.\n", id="new-one", title="A brand new article", lang="en")
        (articles / rel).write_text(text, encoding="utf-8")
        build_index(settings)
        assert client.get("/articles/new-one").status_code == 200
        assert "A brand new article" in html_of(client, "/search?q=brand+new")


def test_trusted_hosts_setting_rejects_other_hosts(built_kb: Settings) -> None:
    import dataclasses

    app = create_app({"KB_SETTINGS": dataclasses.replace(built_kb, trusted_hosts="kb.example.com")})
    with app.test_client() as client:
        assert client.get("/", headers={"Host": "kb.example.com"}).status_code == 200
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


def test_create_app_reads_kb_environment(monkeypatch: pytest.MonkeyPatch, built_kb: Settings) -> None:
    monkeypatch.setenv("KB_ARTICLES_DIR", str(built_kb.articles_dir))
    monkeypatch.setenv("KB_INDEX_DIR", str(built_kb.index_dir))
    monkeypatch.setenv("KB_SITE_NAME", "Env KB")
    with create_app().test_client() as client:
        assert "Env KB" in html_of(client, "/")


# -- XSS -----------------------------------------------------------------------------------------

def _assert_no_executable_script(page: str) -> None:
    tags = parse_tags(page)
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    # theme.js runs before the page paints (no flash of the wrong theme), kb.js after parsing.
    assert scripts == [{"src": "/static/theme.js"}, {"src": "/static/kb.js", "defer": ""}], scripts
    assert not [(tag, attrs) for tag, attrs in tags if any(a.startswith("on") for a in attrs)], "event handler"
    for tag, attrs in tags:
        for name in ("href", "src", "action", "formaction", "data"):
            value = re.sub(r"\s", "", attrs.get(name, "")).lower()
            assert not value.startswith(("javascript:", "data:text/html", "vbscript:")), (tag, attrs)
    assert not [tag for tag, _ in tags if tag in ("iframe", "object", "embed", "svg", "math", "base", "style")]
    assert [attrs for tag, attrs in tags if tag == "meta" and "http-equiv" in attrs] == []
    assert [attrs for tag, attrs in tags if tag == "form" and not attrs.get("action", "").startswith("/")] == []


@pytest.mark.parametrize("url", ["/articles/xss-article", "/categories/email", "/search?q=mail+test", "/recent",
                                 "/review-due", "/", "/search?q=payloads"])
def test_xss_in_front_matter_and_body_cannot_run(client: FlaskClient, url: str) -> None:
    page = html_of(client, url)
    _assert_no_executable_script(page)


def test_xss_in_vocabulary_names_is_escaped(tmp_path: Path) -> None:
    articles = write_knowledge_base(tmp_path / "articles")
    (articles / "_kb" / "categories.yaml").write_text(
        "network: {zh: '<script>alert(1)</script>', en: '<img src=x onerror=alert(2)>'}\n"
        "network/vpn: {zh: VPN, en: VPN}\nemail: {zh: 邮件, en: Email}\n"
        "email/outlook: {zh: Outlook, en: Outlook}\nprinting: {zh: 打印, en: Printing}\n", encoding="utf-8")
    (articles / "_kb" / "onboarding.yaml").write_text(
        "basics:\n  title: {en: '<script>alert(3)</script>', zh: x}\n"
        "  audience: {en: '\"><svg onload=alert(4)>', zh: y}\n  steps: [vpn-error-809]\n", encoding="utf-8")
    settings = web_settings(articles, tmp_path / "index")
    build_index(settings)
    with create_app({"KB_SETTINGS": settings}).test_client() as client:
        for url in ("/", "/categories", "/categories/network", "/onboarding/", "/onboarding/basics",
                    "/search?q=vpn", "/articles/vpn-error-809", "/api/categories"):
            response = client.get(url)
            assert response.status_code == 200, url
            if response.mimetype == "text/html":
                _assert_no_executable_script(response.get_data(as_text=True))


def test_xss_article_text_is_shown_escaped(client: FlaskClient) -> None:
    page = html_of(client, "/articles/xss-article")
    assert "&lt;script&gt;alert(" in page  # the title, as text


@pytest.mark.parametrize("query", [XSS, '"><svg onload=alert(1)>', "javascript:alert(1)", "</title><script>x</script>",
                                   "{{7*7}}"])
def test_xss_in_the_query_string_is_escaped(client: FlaskClient, query: str) -> None:
    for url in ("/search", "/api/search"):
        response = client.get(url, query_string={"q": query, "category": query, "page": query})
        assert response.status_code in (200, 400)
        page = response.get_data(as_text=True)
        if url == "/search":
            _assert_no_executable_script(page)


def test_xss_in_an_unknown_path_is_escaped(client: FlaskClient) -> None:
    page = html_of(client, "/articles/%3Cscript%3Ealert(1)%3C%2Fscript%3E", status=404)
    _assert_no_executable_script(page)


def test_edit_url_template_must_be_http(built_kb: Settings) -> None:
    import dataclasses

    app = create_app({"KB_SETTINGS": dataclasses.replace(built_kb, edit_url_template="javascript:alert('{path}')")})
    with app.test_client() as client:
        page = html_of(client, "/articles/vpn-error-809")
        assert "javascript:" not in page and ">Edit<" not in page


# -- JSON API ------------------------------------------------------------------------------------

def _check(schema: dict[str, Any], value: Any, document: dict[str, Any], where: str = "$") -> None:
    """A small JSON Schema check (the subset the OpenAPI document uses)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        _check(document["components"]["schemas"][name], value, document, where)
        return
    kinds = schema.get("type")
    if kinds:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        python = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
                  "null": type(None), "boolean": bool}
        assert any(isinstance(value, python[k]) for k in kinds), f"{where}: {value!r} is not {kinds}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: missing {key}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                _check(sub, value[key], document, f"{where}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                _check(extra, item, document, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(schema["items"], item, document, f"{where}[{i}]")
    if "enum" in schema:
        assert value in schema["enum"], where


def _response_schema(document: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][path][method]["responses"]["200"]["content"]["application/json"][
        "schema"]
    return schema


def test_api_search_returns_the_cli_json(client: FlaskClient, built_kb: Settings) -> None:
    data = client.get("/api/search?q=vpn+809&limit=3").get_json()
    expected = SearchService(built_kb.index_dir).search(SearchRequest("vpn 809", limit=3)).to_json()
    data.pop("took_ms"), expected.pop("took_ms")
    assert data == expected
    assert list(data) == ["query", "total", "hits", "facets", "did_you_mean", "showing_results_for",
                          "search_instead_for", "notice"]
    # The translation is folded into the hit, one click away.
    assert {data["hits"][0]["id"], data["hits"][0]["translations"][0]["id"]} == {"vpn-error-809", "vpn-error-809-zh"}


def test_api_search_filters_and_pages(client: FlaskClient) -> None:
    data = client.get("/api/search?q=printer&state=validated&limit=5&page=2").get_json()
    assert data["total"] == 12 and len(data["hits"]) == 5
    assert all(h["state"] == "validated" for h in data["hits"])


def test_api_search_filters_may_repeat_like_the_cli(client: FlaskClient, built_kb: Settings) -> None:
    data = client.get("/api/search?q=windows&category=network%2Fvpn&category=email").get_json()
    expected = SearchService(built_kb.index_dir).search(
        SearchRequest("windows", filters={"category": ["network/vpn", "email"]})).to_json()
    data.pop("took_ms"), expected.pop("took_ms")
    assert data == expected


def test_api_search_bad_paging_is_a_json_400(client: FlaskClient) -> None:
    response = client.get("/api/search?q=printer&limit=100&page=1000")
    assert response.status_code == 400 and response.get_json()["error"] == "bad request"


def test_api_article_has_metadata_and_html(client: FlaskClient) -> None:
    data = client.get("/api/articles/vpn-error-809").get_json()
    assert data["title"] == "VPN fails with error 809" and "<h2" in data["html"]
    assert data["translation_of"] == "vpn-error-809-zh" and data["review_due"] == "2020-06-29"
    moved = client.get("/api/articles/vpn-809")
    assert moved.status_code == 301 and moved.headers["Location"] == "/api/articles/vpn-error-809"
    missing = client.get("/api/articles/nope")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not found"


def test_api_categories(client: FlaskClient) -> None:
    data = client.get("/api/categories").get_json()
    vpn = next(c for c in data["categories"] if c["slug"] == "network/vpn")
    assert vpn == {"slug": "network/vpn", "parent": "network", "zh": "VPN", "en": "VPN", "count": 2,
                   "url": "http://localhost/categories/network/vpn"}


def test_api_suggest_for_a_ticket(client: FlaskClient) -> None:
    got = client.get("/api/suggest", query_string={"subject": "VPN error 809",
                                                    "description": "Cannot connect from home"}).get_json()
    assert got["hits"][0]["id"] in ("vpn-error-809", "vpn-error-809-zh")
    posted = client.post("/api/suggest", json={"subject": "Outlook password prompt", "category": "email"})
    assert posted.status_code == 200 and posted.get_json()["hits"][0]["id"] == "outlook-password-prompt"
    assert client.get("/api/suggest").status_code == 400
    assert client.post("/api/suggest", data="x", content_type="text/plain").status_code == 415


def test_openapi_document_matches_the_responses(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    checks = [("/api/search?q=vpn", "/api/search"), ("/api/search?q=zzzxqy", "/api/search"),
              ("/api/articles/vpn-error-809", "/api/articles/{id}"), ("/api/categories", "/api/categories"),
              ("/api/suggest?subject=vpn", "/api/suggest"), ("/api/complete?q=outl", "/api/complete"),
              ("/api/complete?q=%E5%B7%A5%E5%8D%95", "/api/complete")]
    for url, path in checks:
        _check(_response_schema(document, path), client.get(url).get_json(), document, url)
    _check(document["components"]["schemas"]["Error"], client.get("/api/articles/nope").get_json(), document)
    api_rules = {rule.rule for rule in client.application.url_map.iter_rules() if rule.rule.startswith("/api/")}
    assert api_rules == {p.replace("{id}", "<path:article_id>") for p in document["paths"]}
    for path in document["paths"].values():  # every reference resolves
        for ref in re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', str(path).replace("'", '"')):
            assert ref in document["components"]["schemas"], ref


# -- coverage of routes --------------------------------------------------------------------------

OWN_BLUEPRINTS = ("home", "search", "articles", "browse", "onboarding", "changes", "api", "meta")


def test_every_route_is_exercised_by_these_tests(app: Flask) -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in (*OWN_BLUEPRINTS, "static"):
            continue  # other features' blueprints have their own tests
        prefix = re.split(r"<", rule.rule)[0].rstrip("/") or "/"
        assert f'"{prefix}' in source, f"no test requests {rule.rule}"


def test_the_site_reads_its_vocabulary_from_the_build_not_the_checkout(tmp_path: Path) -> None:
    # Labels, categories and onboarding paths come from the build's manifest: the checkout can change
    # (here its whole vocabulary folder is gone) without the served site changing until the next build.
    import shutil

    settings = web_settings(write_knowledge_base(tmp_path / "articles"), tmp_path / "index")
    build_index(settings)

    def pages() -> list[tuple[int, str]]:
        app = create_app({"KB_SETTINGS": settings, "TESTING": True})  # a restarted site
        with app.test_client() as client:
            return [(r.status_code, r.get_data(as_text=True)) for r in
                    (client.get(url) for url in ("/categories", "/categories/network", "/onboarding/basics",
                                                 "/articles/vpn-error-809", "/recent"))]

    before = pages()
    assert [code for code, _ in before] == [200] * 5
    assert "Network" in before[0][1] and "Basics for new staff" in before[2][1]
    shutil.rmtree(settings.articles_dir / "_kb")
    shutil.rmtree(settings.articles_dir / "en")  # and the files whose dates /recent shows
    after = pages()
    assert [code for code, _ in after] == [200] * 5
    assert after[4][1].count('Updated <time datetime="') == before[4][1].count('Updated <time datetime="') > 0
    assert after[0][1].count('href="/categories/') == before[0][1].count('href="/categories/') > 3
    assert "Basics for new staff" in after[2][1]


def test_the_search_contract_is_the_same_for_the_cli_the_api_and_its_description(client: FlaskClient) -> None:
    # search.results declares the filters and the page size once; the CLI and the API derive from it.
    from click.testing import CliRunner

    from kbcli.main import cli
    from search.results import FILTERS, MAX_LIMIT

    document = client.get("/api/openapi.json").get_json()
    params = {p["name"] for p in document["paths"]["/api/search"]["get"]["parameters"]}
    assert params - {"q", "limit", "page", "verbatim"} == set(FILTERS)
    help_text = CliRunner().invoke(cli, ["search", "--help"]).output
    assert "--verbatim" in help_text  # both search without corrections
    assert all(f"--{name}" in help_text for name in FILTERS if name != "type") and "--type" in help_text
    assert f"1<=x<={MAX_LIMIT}" in help_text
    too_many = CliRunner().invoke(cli, ["search", "--limit", str(MAX_LIMIT + 1), "vpn"])
    assert too_many.exit_code == 2
    page = client.get(f"/api/search?q=printer&limit={MAX_LIMIT + 50}")
    assert page.status_code in (200, 400) and len(page.get_json().get("hits", [])) <= MAX_LIMIT
