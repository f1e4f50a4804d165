"""Markdown to safe HTML for one article body.

Python-Markdown with the extensions writers know from GitHub (tables, fenced
code, task lists, autolinks, alerts) plus admonitions, then nh3 as the only
gate to the page: whatever Markdown passes through, the sanitizer decides
what reaches the browser.

Python-Markdown is quadratic or worse on some inputs (deep nesting, long runs
of lines without a blank line, unclosed ``<`` tags, many ``[``), so a body
beyond the limits checked by :func:`limit_exceeded` is not rendered at all and
inline markup beyond an effort budget is shown as plain text.
"""

from __future__ import annotations

import html
import logging
import posixpath
import re
import unicodedata
import xml.etree.ElementTree as etree
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import markdown
import nh3
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markdown.util import AMP_SUBSTITUTE, HTML_PLACEHOLDER_RE, AtomicString
from pygments import highlight
from pygments.formatter import Formatter
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

log = logging.getLogger(__name__)

LinkResolver = Callable[[str], str | None]
"""Takes a link target joined to the articles root (`kb:id#x`, `en/a/b.md#y`); returns its URL or None."""

MAX_NESTING = 16
"""Deepest nesting of block quotes and lists that is rendered."""

MAX_BODY_CHARS = 600_000
"""Longest body, in characters, that is rendered (real reference pages reach 250,000)."""

# Python-Markdown re-tests the rest of a block after every line it may split
# off (a heading, a rule; not a table row): each test searches the rest, up
# to 40 ns a character for lines of `*-_`, and the table test splits it into
# lines. Blank lines end blocks. At this budget the worst block takes ~1.5 s.
_MAX_BLOCK_WORK = 400_000_000
# Its block list is consumed from the front, so blocks cost blocks squared.
_MAX_BLOCKS = 10_000
# Characters its HTML parser may scan looking for the end of `<tag ...`.
_MAX_TAG_SCAN = 20_000_000
# Estimated characters the inline patterns may scan in one body; beyond it
# text stays plain. Link patterns rescan from every `[` and `(` to its match.
_MAX_INLINE_WORK = 4_000_000
_MAX_INLINE_CHARS = 50_000
# Pygments output is about 20 times its input; beyond this, code is escaped only.
_MAX_HIGHLIGHT_CHARS = 100_000

ALERT_KINDS = ("note", "tip", "important", "warning", "caution")
ADMONITION_KINDS = frozenset(
    {*ALERT_KINDS, "attention", "danger", "error", "hint", "info", "success", "question"}
    | {"failure", "bug", "example", "quote", "abstract", "seealso", "todo"}
)

_LIGHT_STYLE = "default"
_DARK_STYLE = "github-dark"


@dataclass(frozen=True)
class Heading:
    """One h2-h4 heading of the table of contents."""

    level: int
    text: str
    anchor: str


@dataclass(frozen=True)
class Link:
    """An internal link target as written, with its line in the body when known, and the target
    resolved once (unquoted, joined to the article's folder: `resolve_target`), which is what the
    renderer looked up and what the checker reports on."""

    target: str
    line: int | None
    resolved: str = ""


@dataclass(frozen=True)
class RenderedBody:
    """The sanitized HTML of one body and what the checker needs from it."""

    html: str
    toc: tuple[Heading, ...]
    links: tuple[Link, ...]
    stripped_html: tuple[str, ...]


# --- limits -----------------------------------------------------------------

_CONTAINER = re.compile(r"[ \t]*(?:>|[-*+](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$))")
_FENCE_OPEN = re.compile(r"(`{3,}|~{3,})")
_FENCE_CLOSE = re.compile(r"(`{3,}|~{3,})[ \t]*$")
_TAG_START = re.compile(r"<[A-Za-z!?/]")
# Roughly what Python-Markdown's start-tag pattern may consume: up to `>`,
# skipping quoted attribute values.
_TAG_SCAN = re.compile(r"""<(?:[^>"']++|"[^"]*+"|'[^']*+')*+""")


def _container_prefix(line: str) -> tuple[int, int]:
    """Count the block-quote and list markers that open a line; return (count, end)."""
    count = 0
    pos = 0
    while m := _CONTAINER.match(line, pos):
        count += 1
        pos = m.end()
    return count, pos


def _fence_lines(lines: list[str], *, top_level: bool = False) -> list[bool]:
    """Flag the lines inside fenced code blocks that have a closing fence.

    With `top_level`, only fences at the start of a line, outside lists and
    quotes, count: those Python-Markdown certainly takes out before parsing.
    """
    bodies = lines if top_level else [line[_container_prefix(line)[1] :].lstrip() for line in lines]
    # A fence without a closing line is no fence (Python-Markdown renders the
    # text as Markdown), so first note the longest closing run after each line.
    later_close = {"`": [0] * (len(lines) + 1), "~": [0] * (len(lines) + 1)}
    for i in range(len(lines) - 1, -1, -1):
        for longest in later_close.values():
            longest[i] = longest[i + 1]
        m = _FENCE_CLOSE.match(bodies[i])
        if m:
            run = m.group(1)
            later_close[run[0]][i] = max(later_close[run[0]][i], len(run))
    inside = [False] * len(lines)
    fence = ""
    for i, body in enumerate(bodies):
        if fence:
            inside[i] = True
            m = _FENCE_CLOSE.match(body)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = ""
            continue
        m = _FENCE_OPEN.match(body)
        if m and later_close[m.group(1)[0]][i + 1] >= len(m.group(1)):
            fence = m.group(1)
    return inside


def nesting_depth(body: str) -> int:
    """Deepest nesting of block quotes and lists in a body, outside fenced code."""
    lines = body.split("\n")
    deepest = 0
    for line, in_fence in zip(lines, _fence_lines(lines), strict=True):
        if in_fence or not line.strip():
            continue
        # Python-Markdown nests a list one level per 4 columns of indentation.
        expanded = line.expandtabs(4)
        indent = len(expanded) - len(expanded.lstrip(" "))
        markers, _ = _container_prefix(line)
        deepest = max(deepest, indent // 4 + markers)
    return deepest


_RULE_LIKE = re.compile(r"[-*_ \t]+")


def _block_work(body: str) -> tuple[int, int]:
    """Count blank-line separated blocks and sum their cost to Python-Markdown."""
    blocks = work = lines = splitting = chars = 0
    all_lines = body.split("\n")
    for line, in_fence in zip(all_lines, _fence_lines(all_lines, top_level=True), strict=True):
        if in_fence:
            continue  # fenced code is taken out before blocks are parsed
        if line.strip():
            lines += 1
            splitting += not line.startswith("|")
            chars += len(line) * (16 if _RULE_LIKE.fullmatch(line) else 4)
            continue
        if lines:
            blocks += 1
            work += splitting * (chars + 24 * lines)
            lines = splitting = chars = 0
    if lines:
        blocks += 1
        work += splitting * (chars + 24 * lines)
    return blocks, work


def _tag_scan_exceeds(body: str, limit: int) -> bool:
    """Tell whether scanning every `<tag` to its end would pass `limit` characters."""
    scanned = 0
    for m in _TAG_START.finditer(body):
        end = _TAG_SCAN.match(body, m.start())
        scanned += end.end() - m.start() if end else 1
        if scanned > limit:
            return True
    return False


def limit_exceeded(body: str) -> str | None:
    """Say why a body is beyond what the renderer will render, or None."""
    if len(body) > MAX_BODY_CHARS:
        return f"it is {len(body):,} characters long; the limit is {MAX_BODY_CHARS:,}"
    depth = nesting_depth(body)
    if depth > MAX_NESTING:
        return f"quotes or lists nest {depth} levels deep; the limit is {MAX_NESTING}"
    blocks, work = _block_work(body)
    if blocks > _MAX_BLOCKS:
        return f"it has {blocks:,} blocks separated by blank lines; the limit is {_MAX_BLOCKS:,}"
    if work > _MAX_BLOCK_WORK:
        return "it has very long runs of lines without a blank line; add blank lines"
    if _tag_scan_exceeds(body, _MAX_TAG_SCAN):
        return "it has many '<' that open HTML tags never closed by '>'; write them as &lt;"
    return None


# --- per-render state ---------------------------------------------------------


@dataclass
class _State:
    """What one render call collects while Markdown walks the document."""

    body: str
    source_path: str
    resolve_link: LinkResolver | None
    toc: list[Heading] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    produced_urls: set[str] = field(default_factory=set)
    inline_work: int = 0
    plain_text_blocks: int = 0
    _line_starts: list[int] = field(default_factory=list, init=False)
    _search_from: dict[str, int] = field(default_factory=dict, init=False)

    def line_of(self, target: str) -> int | None:
        """Line of the next occurrence of a link target in the body, 1-based."""
        if not self._line_starts:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.body)]
        pos = self.body.find(target, self._search_from.get(target, 0))
        if pos < 0:
            return None
        self._search_from[target] = pos + len(target)
        return bisect_right(self._line_starts, pos)


# --- tree processors ------------------------------------------------------------

_ALERT_MARKER = re.compile(r"[ \t]*\[!(" + "|".join(ALERT_KINDS) + r")\][ \t]*(?:\n|$)", re.I)


class _AlertProcessor(Treeprocessor):
    """Turn GitHub alerts (`> [!NOTE]` on the first line) into admonition boxes."""

    def run(self, root: etree.Element) -> None:
        """Rewrite every block quote that starts with an alert marker."""
        for quote in list(root.iter("blockquote")):
            first = quote[0] if len(quote) else None
            if first is None or first.tag != "p" or not first.text:
                continue
            m = _ALERT_MARKER.match(first.text)
            if not m:
                continue
            kind = m.group(1).lower()
            first.text = first.text[m.end() :]
            if not first.text.strip() and not len(first):
                quote.remove(first)
            # Same markup as `!!! note`, so one stylesheet serves both.
            quote.tag = "div"
            quote.set("class", f"admonition {kind}")
            title = etree.Element("p", {"class": "admonition-title"})
            title.text = kind.title()
            quote.insert(0, title)


def _bracket_work(text: str) -> int:
    """Characters the link patterns scan: from each `[` or `(` to its match or the end."""
    work = 0
    opened: list[int] = []
    for m in re.finditer(r"[][()]", text):
        if m.group() in "[(":
            opened.append(m.start())
        elif opened:
            work += m.start() - opened.pop()
    work += sum(len(text) - start for start in opened)
    return work


class _InlineBudgetProcessor(Treeprocessor):
    """Leave text as plain text once inline parsing of it would be too slow."""

    def __init__(self, md: markdown.Markdown, state: _State) -> None:
        super().__init__(md)
        self.state = state

    def _guard(self, text: str | None) -> str | None:
        if not text or isinstance(text, AtomicString):
            return text
        state = self.state
        # The link, image and reference patterns each rescan from every bracket.
        cost = len(text) + 4 * _bracket_work(text)
        if len(text) > _MAX_INLINE_CHARS or state.inline_work + cost > _MAX_INLINE_WORK:
            state.plain_text_blocks += 1
            return AtomicString(text)
        state.inline_work += cost
        return text

    def run(self, root: etree.Element) -> None:
        """Mark text too costly to parse as atomic, which inline processing skips."""
        for el in root.iter():
            el.text = self._guard(el.text)
            el.tail = self._guard(el.tail)


_TAG = re.compile(r"<[^>]*>")


def _plain_text(el: etree.Element, md: markdown.Markdown) -> str:
    """The text a reader sees in an element after inline processing."""
    text = "".join(el.itertext())
    raw = md.htmlStash.rawHtmlBlocks

    def from_stash(m: re.Match[str]) -> str:
        index = int(m.group(1))
        return _TAG.sub("", str(raw[index])) if index < len(raw) else ""

    text = HTML_PLACEHOLDER_RE.sub(from_stash, text).replace(AMP_SUBSTITUTE, "&")
    return " ".join(html.unescape(text).split())


def slugify(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    kept = (c for c in text.lower() if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return "".join(kept).replace(" ", "-")


class _HeadingProcessor(Treeprocessor):
    """Give every heading a unique GitHub-style id and collect the h2-h4 ones."""

    def __init__(self, md: markdown.Markdown, state: _State) -> None:
        super().__init__(md)
        self.state = state

    def run(self, root: etree.Element) -> None:
        """Set ids in document order and record the table of contents."""
        state = self.state
        used: set[str] = set()
        counts: dict[str, int] = {}
        headings = [el for el in root.iter() if el.tag in ("h1", "h2", "h3", "h4", "h5", "h6")]
        used.update(el.get("id", "") for el in headings if el.get("id"))
        for el in headings:
            text = _plain_text(el, self.md)
            anchor = el.get("id")
            if not anchor:
                base = slugify(text) or "section"
                anchor = base
                # GitHub numbers repeats from 1: "faq", "faq-1", "faq-2".
                while anchor in used:
                    counts[base] = counts.get(base, 0) + 1
                    anchor = f"{base}-{counts[base]}"
                used.add(anchor)
                el.set("id", anchor)
            if el.tag in ("h2", "h3", "h4"):
                state.toc.append(Heading(int(el.tag[1]), text, anchor))


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_URL_IGNORED = re.compile(r"[\t\n\r]")
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})


def _scheme(url: str) -> str | None:
    """The scheme a browser would see in a URL, lower case, or None if relative."""
    # Browsers drop tabs and newlines anywhere and control characters and
    # spaces around a URL before they look for the scheme.
    cleaned = _URL_IGNORED.sub("", url).strip("".join(map(chr, range(33))))
    m = _SCHEME.match(cleaned)
    return m.group(1).lower() if m else None


def resolve_target(target: str, source_path: str) -> str:
    """Join a relative link target to the article's folder; leave `kb:` ids alone."""
    if _scheme(target) is not None:
        return target
    path, hash_, fragment = target.partition("#")
    path = unquote(path)
    if path.startswith("/"):
        joined = path.lstrip("/")
    elif path:
        joined = posixpath.join(posixpath.dirname(source_path), path)
    else:
        joined = source_path
    joined = posixpath.normpath(joined) if joined else joined
    return joined + hash_ + fragment


class _LinkProcessor(Treeprocessor):
    """Resolve internal links and images to article URLs; mark the rest broken."""

    def __init__(self, md: markdown.Markdown, state: _State) -> None:
        super().__init__(md)
        self.state = state

    def run(self, root: etree.Element) -> None:
        """Rewrite href and src attributes in document order."""
        state = self.state
        for el in root.iter():
            attr = {"a": "href", "img": "src"}.get(str(el.tag))
            if attr is None or el.get(attr) is None:
                continue
            # Entities are part of a Markdown link destination (CommonMark), and
            # obfuscated mailto links arrive as entities.
            url = html.unescape(str(el.get(attr)).replace(AMP_SUBSTITUTE, "&")).strip()
            el.set(attr, url)
            if url.startswith("#") or _scheme(url) in ALLOWED_SCHEMES:
                continue
            if _scheme(url) not in (None, "kb") or urlsplit(url).netloc:
                continue  # the sanitizer drops it and the report names it
            target = resolve_target(url, state.source_path)
            state.links.append(Link(url, state.line_of(url), target))
            resolved = None
            if state.resolve_link is not None:
                resolved = state.resolve_link(target)
            if resolved is None:
                del el.attrib[attr]
                el.set("class", "broken-link")
            else:
                el.set(attr, resolved)
                state.produced_urls.add(resolved)


class _KbExtension(Extension):
    """Alerts, the inline budget, heading anchors and internal links."""

    def __init__(self, state: _State) -> None:
        super().__init__()
        self.state = state

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        """Register the tree processors around Markdown's inline pass (priority 20)."""
        tree = md.treeprocessors
        tree.register(_AlertProcessor(md), "kb-alerts", 30)
        tree.register(_InlineBudgetProcessor(md, self.state), "kb-inline-budget", 20.5)
        # After "unescape" (0), so heading text and URLs hold no placeholders.
        tree.register(_HeadingProcessor(md, self.state), "kb-headings", -1)
        tree.register(_LinkProcessor(md, self.state), "kb-links", -2)


# --- code blocks -----------------------------------------------------------------

_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,40}")


@lru_cache(maxsize=1)
def _code_formatter() -> HtmlFormatter[str]:
    """One formatter for every block: building one costs more than most blocks."""
    return HtmlFormatter(nowrap=True)


@lru_cache(maxsize=256)
def _lexer(language: str) -> Lexer | None:
    """The Pygments lexer for a fence's language, or None if Pygments has none."""
    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        return None


def _format_fence(source: str, language: str, class_name: str, options: Any, md: Any, **kwargs: Any) -> str:
    """Render one fenced block as `<pre class="highlight"><code class="language-x">`."""
    language = language if _LANGUAGE.fullmatch(language or "") else ""
    lexer = _lexer(language.lower()) if language else None
    if lexer is not None and len(source) <= _MAX_HIGHLIGHT_CHARS:
        code = highlight(source, lexer, _code_formatter())
    else:
        code = html.escape(source, quote=False)
    lang_class = f' class="language-{html.escape(language)}"' if language else ""
    return f'<pre class="{class_name}"><code{lang_class}>{code}</code></pre>'


def pygments_css() -> str:
    """The stylesheet for highlighted code: light, and dark when the reader prefers it."""

    def rules(style: str) -> list[str]:
        formatter: Formatter[str] = HtmlFormatter(style=style)
        # Only rules scoped to .highlight: Pygments also styles every `pre`.
        return [line for line in formatter.get_style_defs(".highlight").splitlines() if line.startswith(".highlight")]

    dark = "\n".join("  " + line for line in rules(_DARK_STYLE))
    return "\n".join(rules(_LIGHT_STYLE)) + "\n@media (prefers-color-scheme: dark) {\n" + dark + "\n}\n"


# --- the Markdown pipeline -------------------------------------------------------


def _markdown(state: _State) -> markdown.Markdown:
    """A Markdown instance for one render, collecting into `state`."""
    # A fresh instance per call: instances are not thread-safe, and building
    # one costs 0.2 ms against 1 ms for a short article, too little to pool.
    return markdown.Markdown(
        extensions=[
            "tables",
            "admonition",
            "sane_lists",
            "pymdownx.superfences",
            "pymdownx.tasklist",
            "pymdownx.magiclink",
            "pymdownx.tilde",
            _KbExtension(state),
        ],
        extension_configs={
            # align="..." rather than style="text-align: ...": no inline styles.
            "tables": {"use_align_attribute": True},
            "pymdownx.superfences": {"custom_fences": [{"name": "*", "class": "highlight", "format": _format_fence}]},
            "pymdownx.tasklist": {"custom_checkbox": False, "clickable_checkbox": False},
            "pymdownx.magiclink": {"hide_protocol": False},
            # `~one~` stays literal as on GitHub; `~~two~~` strikes through.
            "pymdownx.tilde": {"subscript": False},
        },
        output_format="html",
    )


# --- sanitizing --------------------------------------------------------------------

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
ALLOWED_TAGS = frozenset(
    {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details"}
    | {"div", "dl", "dt", "em", "hr", "i", "img", "input", "ins", "kbd", "li", "mark"}
    | {"ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary"}
    | {"sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var"}
    | set(_HEADINGS)
)
_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title", "class"},
    "img": {"src", "alt", "title", "width", "height", "class"},
    "abbr": {"title"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "details": {"open"},
    "input": {"checked"},
    **{tag: {"class"} for tag in ("div", "p", "pre", "code", "span", "ul", "li")},
    **{tag: {"id"} for tag in _HEADINGS},
}
_ALIGN = {"align": {"left", "center", "right"}}
_ATTRIBUTE_VALUES = {"td": _ALIGN, "th": _ALIGN}
# Every input becomes a disabled checkbox, whatever type the HTML asked for.
_FORCED_ATTRIBUTES = {"input": {"type": "checkbox", "disabled": "disabled"}}

_PYGMENTS_CLASS = re.compile(r"[a-z][a-z0-9]{0,3}(?:-[A-Za-z0-9]+)*")
_CLASSES: dict[str, Callable[[str], bool]] = {
    "div": lambda c: c == "admonition" or c in ADMONITION_KINDS,
    "p": lambda c: c == "admonition-title",
    "pre": lambda c: c == "highlight",
    "code": lambda c: c.startswith("language-") and bool(_LANGUAGE.fullmatch(c[9:])),
    "span": lambda c: bool(_PYGMENTS_CLASS.fullmatch(c)),
    "ul": lambda c: c == "task-list",
    "li": lambda c: c == "task-list-item",
    "a": lambda c: c == "broken-link",
    "img": lambda c: c == "broken-link",
}


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Keep only the classes our own markup and Pygments use, per tag."""
    if attribute != "class":
        return value
    allowed = _CLASSES.get(tag)
    kept = [c for c in value.split() if allowed is not None and allowed(c)]
    return " ".join(kept) or None


def _sanitize(html_text: str, produced_urls: set[str]) -> str:
    """The HTML with everything outside the policy removed."""

    def relative(url: str) -> str | None:
        # Relative URLs are either in-page anchors or came from the resolver;
        # any other (raw HTML `other.md`, `//host`) would leak or mislead.
        return url if url.startswith("#") or url in produced_urls else None

    return nh3.clean(
        html_text,
        tags=set(ALLOWED_TAGS),
        attributes=_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        tag_attribute_values=_ATTRIBUTE_VALUES,
        set_tag_attribute_values=_FORCED_ATTRIBUTES,
        url_schemes=set(ALLOWED_SCHEMES),
        url_relative=relative,
        link_rel="noopener noreferrer",
    )


# Tags, comments (`<!-->` is a whole one) and the text of raw-text elements,
# read as a browser would, closely enough for a writer's warning; nh3 does
# the real parsing.
_HTML_TOKEN = re.compile(
    r"""<!--(?:-?>|.*?(?:--!?>|\Z))"""  # comment
    r"""|<([A-Za-z][^\s/>]*+)((?:[^>"']++|"[^"]*+"|'[^']*+')*+)>?""",  # start tag: name, attributes
    re.S,
)
_HTML_ATTRIBUTE = re.compile(r"""([^\s"'>/=]++)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_RAW_TEXT_TAGS = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"})


def _url_problem(url: str, produced_urls: set[str]) -> str | None:
    """What is wrong with a URL the sanitizer will drop, or None if it stays."""
    scheme = _scheme(url)
    if scheme is not None:
        return None if scheme in ALLOWED_SCHEMES else f"{scheme}: URL"
    if url.startswith("#") or url in produced_urls:
        return None
    return f"link {url!r} (only Markdown links to articles are resolved)"


def _attribute_problem(tag: str, name: str, value: str, produced_urls: set[str]) -> str | None:
    """What the sanitizer will drop of one attribute, or None if it stays."""
    if name in _ATTRIBUTE_VALUES.get(tag, {}):
        return None if value in _ATTRIBUTE_VALUES[tag][name] else f"{name} attribute"
    if name in _FORCED_ATTRIBUTES.get(tag, {}):
        return None
    if name not in _ATTRIBUTES.get(tag, set()):
        return f"{name} attribute"
    return _url_problem(value, produced_urls) if name in ("href", "src") else None


def _stripped(html_text: str, produced_urls: set[str]) -> tuple[str, ...]:
    """Describe, once each, the tags, attributes and URLs the sanitizer will drop."""
    found: dict[str, None] = {}
    pos = 0
    while m := _HTML_TOKEN.search(html_text, pos):
        pos = m.end()
        if m.group(1) is None:
            continue  # a comment: dropped whole, and meant to be invisible anyway
        tag = m.group(1).lower()
        if tag not in ALLOWED_TAGS:
            found[f"<{tag}>"] = None
        for a in _HTML_ATTRIBUTE.finditer(m.group(2)):
            value = html.unescape(next((v for v in a.groups()[1:] if v is not None), ""))
            problem = _attribute_problem(tag, a.group(1).lower(), value, produced_urls)
            if problem is not None:
                found[problem] = None
        if tag in _RAW_TEXT_TAGS:  # its content is text, not tags
            end = html_text.lower().find(f"</{tag}", pos)
            pos = len(html_text) if end < 0 else end
    return tuple(found)


# --- entry points --------------------------------------------------------------------


def _refused(reason: str) -> RenderedBody:
    """The body shown instead of an article the renderer will not render."""
    message = html.escape(f"This article is not rendered: {reason}.")
    return RenderedBody(f'<div class="render-error"><p>{message}</p></div>', (), (), ())


def render_markdown(body: str, *, source_path: str = "", resolve_link: LinkResolver | None = None) -> RenderedBody:
    """Render one article body to sanitized HTML with its headings and internal links."""
    reason = limit_exceeded(body)
    if reason is not None:
        return _refused(reason)
    state = _State(body, source_path, resolve_link)
    try:
        raw = _markdown(state).convert(body)
    except RecursionError:
        # Nesting by other means than the markers nesting_depth counts.
        return _refused("it nests too deeply to render")
    if state.plain_text_blocks:
        log.info("%s: %d text blocks too complex for inline markup", source_path, state.plain_text_blocks)
    return RenderedBody(
        html=_sanitize(raw, state.produced_urls),
        toc=tuple(state.toc),
        links=tuple(state.links),
        stripped_html=_stripped(raw, state.produced_urls),
    )
