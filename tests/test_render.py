"""kb.render: Markdown to sanitized HTML, with headings, internal links and limits."""

from __future__ import annotations

import re
import threading
from html.parser import HTMLParser

import pytest

from kb.render import (
    MAX_BODY_CHARS,
    MAX_NESTING,
    Heading,
    Link,
    RenderedBody,
    limit_exceeded,
    nesting_depth,
    pygments_css,
    render_markdown,
    resolve_target,
    slugify,
)

ARTICLES = {
    "kb:vpn-809": "/a/vpn-809",
    "en/network/vpn.md": "/a/vpn",
    "en/email/outlook.md": "/a/outlook",
}


def resolver(target: str) -> str | None:
    """Resolve like the loader does: known ids and paths, anchors kept."""
    ref, _, anchor = target.partition("#")
    url = ARTICLES.get(ref)
    return None if url is None else url + (f"#{anchor}" if anchor else "")


def render(body: str, source_path: str = "en/network/a.md") -> RenderedBody:
    return render_markdown(body, source_path=source_path, resolve_link=resolver)


class _Elements(HTMLParser):
    """Every start tag with its attributes, to assert on structure rather than text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str, tag: str | None = None) -> list[dict[str, str | None]]:
    parser = _Elements()
    parser.feed(html)
    return [attrs for name, attrs in parser.tags if tag is None or name == tag]


def assert_no_script(html: str) -> None:
    """Nothing in the HTML can run script: no script-ish tags, handlers, styles or bad URLs."""
    for name, attrs in _all_tags(html):
        assert name not in {"script", "svg", "math", "iframe", "object", "embed", "style", "form", "base"}, html
        for attr, value in attrs.items():
            assert not attr.startswith("on"), html
            assert attr not in {"style", "srcdoc", "formaction", "action"}, html
            if attr in {"href", "src"} and value is not None:
                scheme = re.sub(r"[\x00-\x20]", "", value).split(":", 1)[0].lower() if ":" in value else ""
                assert scheme in {"", "http", "https", "mailto"}, html


def _all_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


# --- extensions ---------------------------------------------------------------


def test_tables_render_with_align_attributes_not_inline_styles() -> None:
    html = render("| L | C | R |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n").html
    assert [td.get("align") for td in elements(html, "td")] == ["left", "center", "right"]
    assert "style=" not in html


def test_fenced_code_is_highlighted_with_classes_and_keeps_its_language() -> None:
    html = render("```python\ndef f(x):\n    return 1\n```\n").html
    assert elements(html, "pre") == [{"class": "highlight"}]
    assert elements(html, "code") == [{"class": "language-python"}]
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">f</span>' in html
    assert "style=" not in html


def test_fence_in_an_unknown_language_keeps_its_class_without_highlighting() -> None:
    html = render("~~~mermaid\ngraph TD; A-->B\n~~~\n").html
    assert elements(html, "code") == [{"class": "language-mermaid"}]
    assert "A--&gt;B" in html
    assert "<span" not in html


def test_fenced_code_inside_a_list_item_is_a_code_block() -> None:
    html = render("1. Run:\n\n    ```sh\n    ls -l\n    ```\n").html
    assert re.search(r"<li>.*<pre class=\"highlight\"><code class=\"language-sh\">", html, re.S), html


def test_code_blocks_never_run_the_html_they_show() -> None:
    html = render("```html\n<script>alert(1)</script>\n```\n\n`<img src=x onerror=alert(1)>`\n").html
    assert_no_script(html)
    assert "&lt;" in html and "script" in html


def test_task_lists_render_as_disabled_checkboxes() -> None:
    html = render("- [x] done\n- [ ] todo\n").html
    boxes = elements(html, "input")
    assert [b.get("type") for b in boxes] == ["checkbox", "checkbox"]
    assert all("disabled" in b for b in boxes)
    assert ["checked" in b for b in boxes] == [True, False]
    assert elements(html, "ul") == [{"class": "task-list"}]


def test_raw_inputs_become_disabled_checkboxes_whatever_type_they_ask_for() -> None:
    html = render('<input type="text" name="q" value="x" onfocus="alert(1)">\n').html
    assert elements(html, "input") == [{"type": "checkbox", "disabled": "disabled"}]


@pytest.mark.parametrize("kind", ["NOTE", "TIP", "IMPORTANT", "WARNING", "CAUTION"])
def test_github_alerts_render_as_titled_boxes(kind: str) -> None:
    html = render(f"> [!{kind}]\n> Restart the **client** first.\n").html
    assert f'<div class="admonition {kind.lower()}">' in html
    assert f'<p class="admonition-title">{kind.title()}</p>' in html
    assert "<strong>client</strong>" in html
    assert "[!" not in html and "<blockquote>" not in html


def test_a_quote_with_an_unknown_or_inline_marker_stays_a_quote() -> None:
    for body in ("> [!DANGER]\n> text\n", "> [!NOTE] on the same line\n"):
        html = render(body).html
        assert "<blockquote>" in html and "admonition" not in html, body


def test_admonitions_render_like_alerts() -> None:
    html = render('!!! warning "Back up first"\n    The reset erases the profile.\n').html
    assert '<div class="admonition warning">' in html
    assert '<p class="admonition-title">Back up first</p>' in html


def test_bare_urls_www_and_emails_become_links() -> None:
    html = render("See https://example.com/a?b=1 or www.example.org or help@example.com.\n").html
    hrefs = [a.get("href") for a in elements(html, "a")]
    assert hrefs == ["https://example.com/a?b=1", "http://www.example.org", "mailto:help@example.com"]


def test_external_links_get_noopener_noreferrer() -> None:
    html = render("[vendor](https://vendor.example/kb)\n").html
    assert elements(html, "a") == [{"href": "https://vendor.example/kb", "rel": "noopener noreferrer"}]


def test_strikethrough_with_two_tildes_only() -> None:
    html = render("~~old~~ and ~kept~\n").html
    assert "<del>old</del>" in html and "~kept~" in html


# --- headings -----------------------------------------------------------------


def test_headings_get_github_anchors_and_h2_to_h4_form_the_toc() -> None:
    body = "# Title\n\n## Step 2: Restart\n\n### Check `<br>` & <kbd>Ctrl</kbd>\n\n#### Deep\n\n##### Deeper\n"
    rendered = render(body)
    assert rendered.toc == (
        Heading(2, "Step 2: Restart", "step-2-restart"),
        Heading(3, "Check <br> & Ctrl", "check-br--ctrl"),
        Heading(4, "Deep", "deep"),
    )
    ids = [h.get("id") for h in elements(rendered.html) if h.get("id")]
    assert ids == ["title", "step-2-restart", "check-br--ctrl", "deep", "deeper"]


def test_chinese_headings_keep_their_characters_in_anchors() -> None:
    rendered = render("## 解决方法\n\n## 原因：证书过期\n")
    assert [h.anchor for h in rendered.toc] == ["解决方法", "原因证书过期"]
    assert '<h2 id="解决方法">解决方法</h2>' in rendered.html


def test_repeated_headings_get_numbered_anchors() -> None:
    rendered = render("## FAQ\n\n## FAQ\n\n## FAQ\n\n## FAQ 1\n")
    assert [h.anchor for h in rendered.toc] == ["faq", "faq-1", "faq-2", "faq-1-1"]


def test_slugify_follows_github() -> None:
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("a  b") == "a--b"
    assert slugify("snake_case-and-dash") == "snake_case-and-dash"
    assert slugify("Ünïcödé") == "ünïcödé"


def test_headings_without_text_still_get_unique_anchors() -> None:
    rendered = render("## !!!\n\n## ???\n")
    assert [h.anchor for h in rendered.toc] == ["section", "section-1"]


# --- internal links -------------------------------------------------------------


def test_kb_id_links_resolve_to_the_article_url_with_anchor() -> None:
    rendered = render("See [VPN](kb:vpn-809#cause).\n")
    assert elements(rendered.html, "a")[0]["href"] == "/a/vpn-809#cause"
    assert rendered.links == (Link("kb:vpn-809#cause", 1, "kb:vpn-809#cause"),)


def test_relative_md_links_are_joined_to_the_article_folder() -> None:
    body = "Intro\n\nSee [mail](../email/outlook.md#profile) and [vpn](vpn.md).\n"
    rendered = render(body, source_path="en/network/a.md")
    assert [a["href"] for a in elements(rendered.html, "a")] == ["/a/outlook#profile", "/a/vpn"]
    assert rendered.links == (Link("../email/outlook.md#profile", 3, "en/email/outlook.md#profile"),
                              Link("vpn.md", 3, "en/network/vpn.md"))


def test_resolver_receives_targets_joined_to_the_articles_root() -> None:
    seen: list[str] = []

    def record(target: str) -> str | None:
        seen.append(target)
        return None

    body = "[a](../email/b.md#x) [b](kb:foo#bar) [c](/en/c.md) [d](sub/d%20e.md) [e](kb:foo)\n"
    render_markdown(body, source_path="en/network/a.md", resolve_link=record)
    assert seen == ["en/email/b.md#x", "kb:foo#bar", "en/c.md", "en/network/sub/d e.md", "kb:foo"]


def test_resolve_target_normalises_paths_and_leaves_ids() -> None:
    assert resolve_target("../email/b.md#x", "en/network/a.md") == "en/email/b.md#x"
    assert resolve_target("./b.md", "en/a.md") == "en/b.md"
    assert resolve_target("kb:foo#bar", "en/a.md") == "kb:foo#bar"


def test_broken_links_keep_their_text_but_lose_the_href() -> None:
    rendered = render("See [old](../gone/old.md) and [x](kb:nope#a).\n")
    anchors = elements(rendered.html, "a")
    assert [a.get("class") for a in anchors] == ["broken-link", "broken-link"]
    assert all("href" not in a for a in anchors)
    assert "gone" not in rendered.html and "nope" not in rendered.html
    assert [link.target for link in rendered.links] == ["../gone/old.md", "kb:nope#a"]


def test_without_a_resolver_every_internal_link_is_broken() -> None:
    rendered = render_markdown("[a](kb:x) [b](https://example.com)\n")
    assert [a.get("href") for a in elements(rendered.html, "a")] == [None, "https://example.com"]


def test_only_internal_links_are_reported_not_external_mail_or_anchors() -> None:
    body = "[a](https://x.example) [b](mailto:a@b.example) [c](#cause) www.example.org [d](kb:vpn-809)\n"
    rendered = render(body)
    assert rendered.links == (Link("kb:vpn-809", 1, "kb:vpn-809"),)
    assert "#cause" in [a.get("href") for a in elements(rendered.html, "a")]


def test_link_lines_follow_repeated_targets_and_reference_definitions() -> None:
    body = "[a](kb:vpn-809)\n\ntext\n\n[b](kb:vpn-809) and [c][ref]\n\n[ref]: ../email/outlook.md\n"
    rendered = render(body)
    assert rendered.links == (Link("kb:vpn-809", 1, "kb:vpn-809"), Link("kb:vpn-809", 5, "kb:vpn-809"),
                              Link("../email/outlook.md", 7, "en/email/outlook.md"))


def test_internal_images_go_through_the_resolver_too() -> None:
    rendered = render("![diagram](img/flow.png)\n")
    img = elements(rendered.html, "img")[0]
    assert "src" not in img and img.get("class") == "broken-link" and img.get("alt") == "diagram"
    assert rendered.links == (Link("img/flow.png", 1, "en/network/img/flow.png"),)


def test_raw_html_relative_links_are_dropped_and_reported() -> None:
    rendered = render('<a href="../email/outlook.md">raw</a> <a href="//evil.example/x">p</a>\n')
    assert all("href" not in a for a in elements(rendered.html, "a"))
    assert any("../email/outlook.md" in s for s in rendered.stripped_html)
    assert any("//evil.example/x" in s for s in rendered.stripped_html)


# --- sanitizing -----------------------------------------------------------------

XSS = {
    "script": ("<script>alert(1)</script>", "<script>"),
    "img onerror": ("<img src=x onerror=alert(1)>", "onerror attribute"),
    "svg onload": ("<svg onload=alert(1)><circle/></svg>", "<svg>"),
    "style attribute": ('<p style="background:url(javascript:alert(1))">x</p>', "style attribute"),
    "onclick": ('<b onclick="alert(1)">b</b>', "onclick attribute"),
    "raw javascript href": ('<a href="javascript:alert(1)">x</a>', "javascript: URL"),
    "markdown javascript link": ("[x](javascript:alert(1))", "javascript: URL"),
    "markdown javascript autolink": ("<javascript:alert(1)>", "<javascript:alert(1)>"),
    "entity-encoded scheme": ("[x](&#106;avascript:alert(1))", "javascript: URL"),
    "hex entities in raw href": ('<a href="&#x6A;&#x61;vascript&colon;alert(1)">x</a>', "javascript: URL"),
    "tab entity in scheme": ('<a href="java&#9;script:alert(1)">x</a>', "javascript: URL"),
    "upper case scheme": ("[x](JaVaScRiPt:alert(1))", "javascript: URL"),
    "data url link": ("[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "data: URL"),
    "data url image": ("![x](data:image/svg+xml;base64,PHN2Zz4=)", "data: URL"),
    "vbscript": ('<a href="vbscript:msgbox(1)">x</a>', "vbscript: URL"),
    "iframe srcdoc": ('<iframe srcdoc="<script>alert(1)</script>"></iframe>', "<iframe>"),
    "form action": ('<form action="javascript:alert(1)"><button>go</button></form>', "<form>"),
    "style tag": ("<style>body{display:none}</style>", "<style>"),
    "object": ('<object data="javascript:alert(1)"></object>', "<object>"),
    "math": ('<math><mi xlink:href="javascript:alert(1)">x</mi></math>', "<math>"),
    "meta refresh": ('<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', "<meta>"),
    "details ontoggle": ("<details open ontoggle=alert(1)><summary>s</summary></details>", "ontoggle attribute"),
    "base href": ('<base href="https://evil.example/">', "<base>"),
    "comment breakout": ("<!--><img src=x onerror=alert(1)>-->", "onerror attribute"),
}


@pytest.mark.parametrize("name", sorted(XSS))
def test_script_cannot_run_and_the_removal_is_reported(name: str) -> None:
    payload, description = XSS[name]
    rendered = render(f"Before\n\n{payload}\n\nAfter\n")
    assert_no_script(rendered.html)
    assert "alert(1)</script>" not in rendered.html
    if description.startswith("<javascript"):
        return  # Markdown does not take it for a link: it stays escaped text
    assert description in rendered.stripped_html, rendered.stripped_html


def test_escaped_autolink_with_javascript_stays_text() -> None:
    rendered = render("<javascript:alert(1)>\n")
    assert_no_script(rendered.html)
    assert elements(rendered.html, "a") == []


def test_safe_raw_html_is_kept_and_not_reported() -> None:
    rendered = render(
        "Press <kbd>Ctrl</kbd>+<kbd>C</kbd>.<br>\n\n<details><summary>More</summary>\n\nx\n\n</details>\n"
    )
    assert "<kbd>Ctrl</kbd>" in rendered.html and "<details>" in rendered.html
    assert rendered.stripped_html == ()


def test_classes_outside_the_policy_are_removed() -> None:
    rendered = render('<div class="admonition note fixed-overlay">x</div>\n\n<span class="k evil tricky">y</span>\n')
    assert elements(rendered.html, "div") == [{"class": "admonition note"}]
    assert '<span class="k evil tricky">' not in rendered.html


def test_ids_are_only_kept_on_headings() -> None:
    rendered = render('<div id="login-form">x</div>\n\n<h2 id="custom">Custom</h2>\n')
    assert '<div id="login-form">' not in rendered.html
    assert '<h2 id="custom">' in rendered.html


def test_clean_markdown_reports_nothing_stripped() -> None:
    body = "## Steps\n\n1. Open [the guide](kb:vpn-809).\n2. Run `ipconfig /all`.\n\n> [!NOTE]\n> Done.\n"
    assert render(body).stripped_html == ()


# --- styles ---------------------------------------------------------------------


def test_pygments_css_covers_light_and_dark_and_only_styles_highlight() -> None:
    css = pygments_css()
    assert ".highlight .k {" in css
    assert "@media (prefers-color-scheme: dark)" in css
    light, dark = css.split("@media (prefers-color-scheme: dark)")
    assert ".highlight .k {" in light and ".highlight .k {" in dark
    selectors = [line.strip().split("{")[0] for line in css.splitlines() if "{" in line and "@media" not in line]
    assert selectors and all(s.startswith(".highlight") for s in selectors)


# --- limits and hostile input -----------------------------------------------------


def test_nesting_depth_counts_quotes_lists_and_indentation_but_not_fenced_code() -> None:
    assert nesting_depth("plain\n") == 0
    assert nesting_depth("> > > x\n") == 3
    assert nesting_depth("- a\n    - b\n        - c\n") == 3
    assert nesting_depth("> - > 1. x\n") == 4
    assert nesting_depth("```yaml\n" + " " * 200 + "deep: 1\n```\n") == 0
    assert nesting_depth("```\nunclosed\n" + "> " * 40 + "x\n") == 40


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(">" * 10_000 + " x\n", id="10k nested quotes"),
        pytest.param("> " * 10_000 + "x\n", id="10k spaced quotes"),
        pytest.param("- " * 10_000 + "x\n", id="10k list markers on a line"),
        pytest.param("> - " * 10_000 + "x\n", id="10k quotes and lists on a line"),
        # 10,000 levels by indentation would be 200 MB; 150 fit under the size limit.
        pytest.param("\n".join("    " * i + "- x" for i in range(150)), id="150 indented list levels"),
        pytest.param("\n".join("  " * i + "- x" for i in range(150)), id="150 two-space list levels"),
    ],
)
def test_pathological_nesting_is_refused_with_a_marker(body: str) -> None:
    assert nesting_depth(body) > MAX_NESTING
    assert "levels deep" in (limit_exceeded(body) or "")
    rendered = render(body)
    assert 'class="render-error"' in rendered.html
    assert rendered.toc == () and rendered.links == ()


def test_nesting_at_the_limit_still_renders() -> None:
    body = "> " * MAX_NESTING + "deep\n"
    assert nesting_depth(body) == MAX_NESTING and limit_exceeded(body) is None
    rendered = render(body)
    assert rendered.html.count("<blockquote>") == MAX_NESTING


@pytest.mark.parametrize("unit", ["a", "[", "![", "*a", "<a", "`a", "\\", "http://a.b ", "&", "("])
def test_megabyte_lines_are_refused_quickly(unit: str) -> None:
    body = unit * (1_000_000 // len(unit))
    rendered = render(body)
    assert 'class="render-error"' in rendered.html
    assert "characters long" in rendered.html


@pytest.mark.parametrize("unit", ["[", "![", "[a](", "*a", "`a", "\\", "~~a", "<>", "[]", "a@b.c "])
def test_long_hostile_paragraphs_under_the_size_limit_render(unit: str) -> None:
    body = unit * ((MAX_BODY_CHARS - 10) // len(unit))
    rendered = render(body)
    assert 'class="render-error"' not in rendered.html
    assert_no_script(rendered.html)


@pytest.mark.parametrize(
    "unit",
    ["#\n", "---\n", "* * *\n", "=\n", "<a\n", "<a b='", "<div\n\n", "x\n\n", "```\n```\n", "|\n"],
)
def test_block_level_pathologies_are_refused_or_rendered(unit: str) -> None:
    body = unit * ((MAX_BODY_CHARS - 10) // len(unit))
    rendered = render(body)
    assert_no_script(rendered.html)
    refused = 'class="render-error"' in rendered.html
    assert refused == (limit_exceeded(body) is not None)


def test_unclosed_fences_render_the_rest_as_markdown() -> None:
    rendered = render("```python\nx = [1]\n\n## Still a heading\n")
    assert [h.text for h in rendered.toc] == ["Still a heading"]
    many = render("```\n" * 5001)
    assert_no_script(many.html)


def test_text_too_costly_for_inline_markup_is_shown_as_plain_text() -> None:
    rendered = render("[" * 20_000 + "<b>x</b> **y**\n\nNext **paragraph**\n")
    assert "[[[" in rendered.html
    assert "&lt;b&gt;x&lt;/b&gt; **y**" in rendered.html
    assert "<strong>paragraph</strong>" in rendered.html


def test_renders_concurrently_from_threads() -> None:
    bodies = [f"## Part {i}\n\nSee [x](kb:vpn-809#p{i}).\n" for i in range(40)]
    results: dict[int, RenderedBody] = {}

    def work(i: int) -> None:
        results[i] = render(bodies[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, rendered in results.items():
        assert rendered.toc == (Heading(2, f"Part {i}", f"part-{i}"),)
        assert rendered.links == (Link(f"kb:vpn-809#p{i}", 3, f"kb:vpn-809#p{i}"),)


def test_a_resolver_may_render_another_body() -> None:
    def nested(target: str) -> str | None:
        inner = render_markdown("## Inner\n\n[y](kb:other)\n", resolve_link=lambda t: "/a/other")
        return "/a/" + inner.toc[0].anchor

    rendered = render_markdown("## Outer\n\n[x](kb:one)\n", resolve_link=nested)
    assert elements(rendered.html, "a")[0]["href"] == "/a/inner"
    assert rendered.links == (Link("kb:one", 3, "kb:one"),)
