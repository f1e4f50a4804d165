"""Snippets: the best window of the stored text with query words marked.

Works on stored plain text with one compiled regex per query, instead of
re-analysing every hit or expanding fuzzy terms again (Whoosh's highlighter
does both and costs hundreds of milliseconds at 10k articles).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from search.analysis import _FULLWIDTH

SNIPPET_CHARS = 180
MAX_MATCHES = 400
_LATIN = re.compile(r"[A-Za-z0-9]")
# What the stored plain text keeps of Markdown that reads as noise in a snippet: table cell
# pipes and rules, GitHub alert markers ([!NOTE]), quote markers, admonition fences.
_NOISE = re.compile(r"\s*\|[\s|:-]*|(?<!\S):?-{3,}:?(?!\S)|\[!(?:NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]"
                    r"|^\s*>+\s?|^\s*:::+.*$", re.M | re.I)
_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")


def clean(text: str) -> str:
    """Stored text as a reader should see it in a snippet (see _NOISE)."""
    return _NOISE.sub(lambda m: " " if m.group().strip(" \t") else m.group(), text)


def _inside_word(text: str, start: int, end: int) -> bool:
    """A one-character Chinese match next to more Chinese is part of a word (网<mark>络</mark>)."""
    if end - start != 1 or _CJK_CHAR.match(text[start]) is None:
        return False
    return (start > 0 and _CJK_CHAR.match(text[start - 1]) is not None) or \
        (end < len(text) and _CJK_CHAR.match(text[end]) is not None)


def match_pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    """A case-insensitive pattern for query words; `stem*` matches words starting with the stem."""
    alternatives: list[str] = []
    for word in sorted(set(w for w in words if w.strip("*")), key=len, reverse=True):
        prefix = word.endswith("*")
        core = re.escape(word.rstrip("*"))
        if _LATIN.match(word[0]):
            core = r"(?<![A-Za-z0-9])" + core
        if prefix:
            core += r"[A-Za-z0-9]*"
        elif _LATIN.match(word[-1]):
            core += r"(?![A-Za-z0-9])"
        alternatives.append(core)
    if not alternatives:
        return None
    return re.compile("|".join(alternatives), re.IGNORECASE)


def snippet(text: str, pattern: re.Pattern[str] | None, fallback: str = "", size: int = SNIPPET_CHARS) -> str:
    """HTML for the window of `text` with the most distinct matches, matches in <mark>."""
    return snippet_at(clean(text), pattern, fallback, size)[0]


def snippet_at(text: str, pattern: re.Pattern[str] | None, fallback: str = "", size: int = SNIPPET_CHARS
               ) -> tuple[str, int]:
    """`snippet` of already cleaned text, and where in it the window's first match is (-1: none)."""
    folded = text.translate(_FULLWIDTH)
    matches = []
    if pattern is not None:
        for match in pattern.finditer(folded):
            if _inside_word(folded, match.start(), match.end()):
                continue
            matches.append((match.start(), match.end(), match.group().lower()))
            if len(matches) >= MAX_MATCHES:
                break
    if not matches:
        source = " ".join((fallback or text).split())
        cut = source[:size]
        return html.escape(cut) + ("…" if len(source) > size else ""), -1
    best_start, best_score = matches[0][0], -1
    right = 0
    for left, (start, _, _) in enumerate(matches):
        right = max(right, left)
        while right + 1 < len(matches) and matches[right + 1][1] <= start + size:
            right += 1
        window = matches[left:right + 1]
        score = len({m[2] for m in window}) * 10 + len(window)
        if score > best_score:
            best_start, best_score = start, score
    start = max(0, best_start - size // 4)
    # Start at a word or line boundary when one is near.
    boundary = max(text.rfind("\n", start - 20, best_start), text.rfind(" ", start, start + 20))
    if boundary > 0 and boundary < best_start:
        start = boundary + 1
    end = min(len(text), start + size)
    parts = ["…" if start > 0 else ""]
    cursor = start
    for m_start, m_end, _ in matches:
        if m_start < start or m_end > end:
            continue
        parts.append(html.escape(text[cursor:m_start]))
        parts.append(f"<mark>{html.escape(text[m_start:m_end])}</mark>")
        cursor = m_end
    parts.append(html.escape(text[cursor:end]))
    if end < len(text):
        parts.append("…")
    return " ".join("".join(parts).split()), best_start
