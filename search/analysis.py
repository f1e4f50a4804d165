"""Text analysis for support articles: Chinese and English in the same fields.

One tokenizer does everything in a single pass, because Whoosh's filter chain
cannot see across the Chinese/Latin boundary:

* full-width forms are folded (ＶＰＮ -> VPN, NFKC for the rest) with character
  offsets kept pointing into the original text;
* runs of CJK characters are segmented by rjieba (with the vocabulary's user
  dictionary); longer words also index their sub-words at the same position,
  so `共和国` finds `中华人民共和国`;
* Latin words are lowercased and Porter-stemmed;
* identifiers and error codes (`0x80070005`, `ORA-12541`, `C:\\Windows\\System32`,
  `#VALUE!`, `KB5034441`) are indexed whole *and* by parts: the parts take
  consecutive positions and the whole token is stacked on the first part, so
  both `ora-12541` and the phrase `"ora 12541"` match.

The same code analyses queries (see `QueryUnit`), so index and query agree.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import rjieba
from whoosh.analysis import STOP_WORDS, Token, Tokenizer
from whoosh.lang.porter import stem as porter_stem

# Tokens longer than this are junk (base64, minified code) and bloat the index.
MAX_TOKEN_CHARS = 80

_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_ALNUM = rf"[^\W_{_CJK}]"
# An identifier: alphanumerics joined by the punctuation error codes and paths use,
# or an Excel-style error such as #VALUE! / #N/A.
_IDENT = rf"#{_ALNUM}+(?:/{_ALNUM}+)*[!?]?|{_ALNUM}+(?:[-_.:\\/@]+{_ALNUM}+)*"
_SEGMENT = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<ident>{_IDENT})")
_PART = re.compile(rf"{_ALNUM}+")
_ALPHA_DIGITS = re.compile(r"^([^\W\d_]+)(\d+)$")

CHINESE_STOP_WORDS = frozenset([
    "的", "了", "在", "是", "我", "你", "他", "她", "它", "们", "我们", "这",
    "那", "和", "与", "或", "及", "就", "也", "都", "而", "被", "把", "让",
    "给", "吗", "呢", "吧", "啊", "怎么", "怎么办", "如何", "怎样", "为什么", "什么", "哪里",
    "能", "不能", "可以", "无法", "一个", "一下", "时", "后",
])
QUERY_STOP_WORDS = frozenset(STOP_WORDS) | CHINESE_STOP_WORDS | frozenset({"how", "what", "why", "does", "do"})


def fold(text: str) -> tuple[str, list[int] | None]:
    """Full-width to half-width and NFKC; returns the folded text and, if lengths changed,
    a map from folded index to original index (with one extra entry for the end)."""
    folded = text.translate(_FULLWIDTH)
    if unicodedata.is_normalized("NFKC", folded):
        return folded, None
    parts: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(folded):
        normal = unicodedata.normalize("NFKC", char)
        parts.append(normal)
        offsets.extend([index] * len(normal))
    offsets.append(len(folded))
    result = "".join(parts)
    if len(result) == len(folded):
        return result, None
    return result, offsets


def fold_text(text: str) -> str:
    """Just the folded text, for comparisons."""
    return fold(text)[0]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Porter stem of a lowercase alphabetic word; other tokens pass through."""
    if len(word) > 3 and word.isascii() and word.isalpha():
        return str(porter_stem(word))
    return word


def ident_parts(whole: str) -> list[tuple[str, int, int]]:
    """The parts of an identifier with offsets relative to it; empty when it has only one part."""
    parts = [(m.group(), m.start(), m.end()) for m in _PART.finditer(whole)]
    if len(parts) == 1:
        split = _ALPHA_DIGITS.match(whole)
        if split and len(whole) > 2:
            cut = split.end(1)
            return [(whole[:cut], 0, cut), (whole[cut:], cut, len(whole))]
        return parts if parts[0][0] != whole else []  # "#value!" -> "value"
    return parts


_JIEBA: dict[tuple[str, ...], Any] = {}
_JIEBA_LOCK = threading.Lock()


def _jieba(user_dict: tuple[str, ...]) -> Any:
    """One rjieba segmenter per user dictionary per process (building one takes ~60 ms)."""
    segmenter = _JIEBA.get(user_dict)
    if segmenter is None:
        with _JIEBA_LOCK:
            segmenter = _JIEBA.get(user_dict)
            if segmenter is None:
                segmenter = rjieba.Jieba()
                for line in user_dict:
                    parts = line.split()
                    freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
                    tag = parts[2] if len(parts) > 2 else None
                    segmenter.add_word(parts[0], freq, tag)
                _JIEBA[user_dict] = segmenter
    return segmenter


class Piece(NamedTuple):
    """One word of a text: its index form, where it is in the original text, and its kind."""

    term: str  # lowercased, stemmed where English
    start: int
    end: int
    kind: str  # "cjk", "word" or "ident"
    surface: str  # lowercased folded text, unstemmed
    parts: tuple[str, ...] = ()  # index forms of an identifier's parts
    subwords: tuple[str, ...] = ()  # CJK sub-words indexed at the same position


_NONE: tuple[str, ...] = ()


class Segmenter:
    """Splits text into Pieces; shared by the Whoosh tokenizer and the query parser."""

    def __init__(self, user_dict: Sequence[str] = ()) -> None:
        self.user_dict = tuple(user_dict)

    def __getstate__(self) -> dict[str, Any]:
        return {"user_dict": self.user_dict}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.user_dict = tuple(state.get("user_dict", ()))

    def pieces(self, text: str, subwords: bool = True) -> Iterator[Piece]:
        """Every word of `text` in order; offsets refer to the original (unfolded) text."""
        return map(Piece._make, self.raw_pieces(text, subwords))

    def raw_pieces(self, text: str, subwords: bool = True) -> Iterator[tuple[Any, ...]]:
        """`pieces` as plain tuples (the indexing hot path: a NamedTuple costs a Python call)."""
        folded, offsets = fold(text)
        jieba = None
        for match in _SEGMENT.finditer(folded):
            base = match.start()
            if match.lastgroup == "cjk":
                if jieba is None:
                    jieba = _jieba(self.user_dict)
                run = match.group()
                words = jieba.tokenize(run)
                extra: dict[tuple[int, int], list[str]] = {}
                if subwords and any(e - s > 2 for _, s, e in words):
                    spans = {(s, e) for _, s, e in words}
                    for word, s, e in jieba.tokenize(run, "search"):
                        if (s, e) in spans:
                            continue
                        for ws, we in spans:
                            if ws <= s and e <= we:
                                extra.setdefault((ws, we), []).append(word)
                                break
                for word, s, e in words:
                    start, end = base + s, base + e
                    if offsets is not None:
                        start, end = offsets[start], offsets[end - 1] + 1
                    sub = extra.get((s, e))
                    yield (word, start, end, "cjk", word, _NONE, tuple(sub) if sub else _NONE)
                continue
            whole = match.group().lower()
            if len(whole) > MAX_TOKEN_CHARS:
                continue
            start, end = base, match.end()
            if offsets is not None:
                start, end = offsets[start], offsets[end - 1] + 1
            parts = None if whole.isalpha() or whole.isdigit() else ident_parts(whole)
            if parts:
                yield (whole, start, end, "ident", whole, tuple(stem(p) for p, _, _ in parts), _NONE)
            else:
                yield (stem(whole), start, end, "word", whole, _NONE, _NONE)

    def pieces_search(self, word: str) -> list[tuple[str, int, int]]:
        """rjieba's search-mode segmentation of one CJK word (its sub-words and itself)."""
        return list(_jieba(self.user_dict).tokenize(word, "search"))


class KbTokenizer(Tokenizer):  # type: ignore[misc]
    """The Whoosh side of `Segmenter`: index terms with sequential positions and char offsets."""

    def __init__(self, user_dict: Sequence[str] = ()) -> None:
        self.segmenter = Segmenter(user_dict)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KbTokenizer) and other.segmenter.user_dict == self.segmenter.user_dict

    def __hash__(self) -> int:
        return hash(self.segmenter.user_dict)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar = start_char
                token.endchar = start_char + len(value)
            yield token
            return
        pos = start_pos
        for term, start, end, _, surface, parts, subwords in self.segmenter.raw_pieces(value):
            token.boost = 1.0
            token.stopped = False
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            if keeporiginal:
                token.original = surface
            token.text = term
            if positions:
                token.pos = pos
            yield token
            for word in subwords:
                token.text = word
                yield token
            if parts:
                for index, part in enumerate(parts):
                    token.text = part
                    if positions:
                        token.pos = pos + index
                    yield token
                pos += len(parts)
            else:
                pos += 1


def index_terms(tokenizer: KbTokenizer, text: str) -> list[str]:
    """Every term the index stores for `text` (for tests and debugging)."""
    return [t.text for t in tokenizer(text)]
