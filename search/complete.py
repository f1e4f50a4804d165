"""Completion of what a reader is typing: titles, error codes, article ids and products.

The build writes `complete.json` into each build folder: every completable text once, and a
sorted list of keys, one per place a word starts in a text (each Chinese character starts one),
so `globalpro`, `0x8007`, `outl` and `打印` find `GlobalProtect`, `0x80070005`, `Outlook` and
`网络打印机脱机`. A query is a binary search in that list; prefixes shared by very many keys
(one or two letters) have their best entries ranked at build time. The typed text is matched as
typed: nothing is spell-corrected, stemmed or expanded.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.article import Article
from kb.vocabulary import Vocabulary

COMPLETE_FILE = "complete.json"
COMPLETE_KEY_FILE = "complete.key"
FORMAT = 1
MAX_KEY_CHARS = 48  # longer prefixes are matched on their first 48 characters, then checked in full
MAX_PREFIX_CHARS = 200
SCATTERED_PENALTY = 0.5  # the words start words of the text, but not one after another
SCAN_LIMIT = 256  # a prefix with more keys than this is answered from its list ranked at build time
RANKED_PER_PREFIX = 24
DEFAULT_LIMIT = 8
MAX_LIMIT = 20

# Kinds of completion, best first at equal match: a title is what most readers look for.
KIND_WEIGHTS = {"title": 3.0, "error": 2.6, "product": 2.4, "id": 1.5}
STATE_WEIGHTS = {"validated": 0.6, "unverified": 0.3}
START_BONUS = 1.0  # the prefix starts the text, not a later word


@dataclass(frozen=True)
class Completion:
    """One completion: its text, the typed parts in it as [start, end) character ranges, and what it leads to."""

    kind: str  # title, error, id or product
    text: str
    marks: tuple[tuple[int, int], ...]
    target: str  # the article id (title, id), the product id (product) or the text (error: a search)
    lang: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "marks": [list(m) for m in self.marks],
                "target": self.target, "lang": self.lang}


def normalize(text: str) -> tuple[str, list[int]]:
    """Text as keys are compared (NFKC, case-folded, runs of spaces as one), with each normalized
    character's index in the original text, so a match can be marked in what the reader sees."""
    out: list[str] = []
    origin: list[int] = []
    last_space = True
    for index, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char).casefold()
        for piece in folded:
            if piece.isspace():
                if last_space:
                    continue
                piece, last_space = " ", True
            else:
                last_space = False
            out.append(piece)
            origin.append(index)
    while out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


def normalized(text: str) -> str:
    """`normalize(text)[0]`, quickly for ASCII text (most titles and every error code)."""
    return " ".join(text.lower().split()) if text.isascii() else normalize(text)[0]


def normalize_prefix(prefix: str) -> str:
    """A typed prefix as keys are compared; a trailing space is kept (the reader finished a word)."""
    text = normalized(prefix[:MAX_PREFIX_CHARS])
    return text + " " if text and prefix[-1:].isspace() else text


_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
# A letter or digit after anything else, every CJK character, and a letter after a CJK character.
_WORD_START = re.compile(rf"(?<![^\W_])[^\W_]|[{_CJK_CLASS}]|(?<=[{_CJK_CLASS}])[^\W_]")


def word_starts(text: str) -> Iterator[int]:
    """Where a word starts in normalized text: after a non-alphanumeric, and at every CJK character."""
    return (m.start() for m in _WORD_START.finditer(text))


@dataclass(frozen=True)
class _Entry:
    kind: str
    text: str
    target: str
    lang: str
    weight: float


def _entries(articles: Iterable[Article], vocabulary: Vocabulary) -> list[_Entry]:
    """Every completable text once: titles and ids per article, each error and product once."""
    entries: list[_Entry] = []
    errors: dict[str, _Entry] = {}
    products: set[str] = set()
    for article in articles:
        if article.state in ("draft", "archived"):
            continue
        state = STATE_WEIGHTS.get(article.state, 0.0)
        entries.append(_Entry("title", article.title, article.id, article.lang, KIND_WEIGHTS["title"] + state))
        entries.append(_Entry("id", article.id, article.id, article.lang, KIND_WEIGHTS["id"] + state))
        for code in article.errors:
            key = normalized(code)
            known = errors.get(key)
            weight = KIND_WEIGHTS["error"] + state
            if known is None or known.weight < weight:
                errors[key] = _Entry("error", code, code, "", weight)
        products.update(p.partition("@")[0] for p in article.products)
    entries.extend(errors.values())
    for product_id in sorted(products):
        product = vocabulary.products.get(product_id)
        name = product.name if product else product_id
        entries.append(_Entry("product", name, product_id, "", KIND_WEIGHTS["product"]))
        name_key = normalized(name)
        if not any(name_key.startswith(product_id, at) for at in word_starts(name_key)):  # "Microsoft Outlook"
            entries.append(_Entry("product", product_id, product_id, "", KIND_WEIGHTS["product"] - 0.2))
    return entries


def _score(entry: _Entry, offset: int) -> float:
    # Shorter texts first at equal weight: "Outlook" before "Outlook keeps asking for a password".
    return entry.weight + (START_BONUS if offset == 0 else 0.0) - min(len(entry.text), 200) / 400


def build_completions(articles: Iterable[Article], vocabulary: Vocabulary) -> dict[str, Any]:
    """The completion data of one build: entries, sorted keys and the ranked lists of busy prefixes."""
    return _build(_entries(articles, vocabulary))


def _entries_key(entries: list[_Entry]) -> str:
    """A digest of the entries: equal digests, equal completion data."""
    data = json.dumps([[e.kind, e.text, e.target, e.lang, e.weight] for e in entries], ensure_ascii=False)
    return hashlib.blake2b(f"{FORMAT}\0{data}".encode(), digest_size=16).hexdigest()


def _build(entries: list[_Entry]) -> dict[str, Any]:
    keyed: list[tuple[str, int, int]] = []
    for number, entry in enumerate(entries):
        text = normalized(entry.text)
        for start in word_starts(text):
            keyed.append((text[start:start + MAX_KEY_CHARS], number, start))
    keyed.sort()
    keys = [k for k, _, _ in keyed]
    refs = [n for _, n, _ in keyed]
    offsets = [o for _, _, o in keyed]
    scores = [_score(entries[n], o) for _, n, o in keyed]
    ranked: dict[str, list[list[int]]] = {}
    groups: list[tuple[int, int]] = [(0, len(keys))]
    length = 0
    while groups:
        length += 1
        busy: list[tuple[int, int]] = []
        for lo, hi in groups:
            start = lo
            while start < hi:
                prefix = keys[start][:length]
                if len(prefix) < length:  # a key shorter than the prefixes of this round
                    start += 1
                    continue
                end = bisect.bisect_right(keys, prefix + "\U0010ffff", start, hi)
                if end - start > SCAN_LIMIT:
                    ranked[prefix] = _best(scores, refs, offsets, start, end, RANKED_PER_PREFIX)
                    busy.append((start, end))
                start = end
        groups = busy
    return {"format": FORMAT, "entries": [[e.kind, e.text, e.target, e.lang, e.weight] for e in entries],
            "keys": keys, "refs": refs, "offsets": offsets, "ranked": ranked}


def _best(scores: list[float], refs: list[int], offsets: list[int], lo: int, hi: int, limit: int
          ) -> list[list[int]]:
    """The best [entry, offset] pairs among keys[lo:hi], one per entry, best first (ties: lower key)."""
    # An entry has a key per word, so take a few more than `limit` and drop repeats.
    wanted = limit * 3
    while True:
        top = heapq.nsmallest(wanted, range(lo, hi), key=lambda i: -scores[i])
        chosen: dict[int, int] = {}
        for i in top:
            chosen.setdefault(refs[i], offsets[i])
        if len(chosen) >= limit or len(top) == hi - lo:
            return [[number, offset] for number, offset in list(chosen.items())[:limit]]
        wanted *= 4
def _best_of(scores: dict[int, float], refs: list[int], offsets: list[int], limit: int) -> list[tuple[int, int]]:
    """The best (entry, offset) pairs among the scored key positions, one per entry."""
    chosen: dict[int, int] = {}
    for i in sorted(scores, key=lambda i: (-scores[i], i)):
        chosen.setdefault(refs[i], offsets[i])
        if len(chosen) >= limit * 2:  # a few spare: the full check of a long prefix may drop some
            break
    return list(chosen.items())


def write_completions(build_dir: Path, articles: Iterable[Article], vocabulary: Vocabulary,
                      live: Path | None = None) -> None:
    """Write complete.json into a build folder (atomically: the build's manifest is written after it).

    Most incremental builds change bodies, not titles, error codes or states: when the entries
    equal the live build's, its file is hard-linked instead of rebuilt (a second at 10,000 articles).
    """
    entries = _entries(articles, vocabulary)
    key = _entries_key(entries)
    # Files of an incremental build may be hard links to the live build's: replace them, never write into them.
    tmp = build_dir / (COMPLETE_FILE + ".tmp")
    tmp.unlink(missing_ok=True)
    reused = False
    if live is not None:
        try:
            if (live / COMPLETE_KEY_FILE).read_text(encoding="utf-8") == key:
                os.link(live / COMPLETE_FILE, tmp)
                reused = True
        except OSError:
            pass  # no reusable file: build it
    if not reused:
        tmp.write_text(json.dumps(_build(entries), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, build_dir / COMPLETE_FILE)
    key_tmp = build_dir / (COMPLETE_KEY_FILE + ".tmp")
    key_tmp.write_text(key, encoding="utf-8")
    os.replace(key_tmp, build_dir / COMPLETE_KEY_FILE)


class Completer:
    """The completion data of one build, loaded once per process."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.entries = [_Entry(str(k), str(t), str(g), str(la), float(w)) for k, t, g, la, w in data.get("entries", [])]
        self.keys: list[str] = data.get("keys", [])
        self.refs: list[int] = data.get("refs", [])
        self.offsets: list[int] = data.get("offsets", [])
        self.ranked: dict[str, list[list[int]]] = data.get("ranked", {})
        self._words: dict[int, tuple[str, list[int]]] = {}  # entry -> normalized text and word starts

    @classmethod
    def open(cls, build_dir: Path) -> Completer:
        """The completer of a build folder (empty for a build made before completion existed)."""
        try:
            data = json.loads((build_dir / COMPLETE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        return cls(data if isinstance(data, dict) and data.get("format") == FORMAT else {})

    def complete(self, prefix: str, limit: int = DEFAULT_LIMIT) -> list[Completion]:
        """The best completions of a prefix, best first, each entry once: texts where the whole
        prefix starts a word first, then (for several words) texts where every word starts one."""
        query = normalize_prefix(prefix)
        if not query:
            return []
        limit = max(1, min(limit, MAX_LIMIT))
        found: dict[int, Completion] = {}
        for number, offset in self._starting(query, limit):
            completion = self._completion(number, [(offset, query.rstrip(" "))])
            if completion is not None:
                found.setdefault(number, completion)
            if len(found) >= limit:
                return list(found.values())
        words = query.split()
        if len(words) > 1:
            for number, spans in self._all_words(words, set(found), limit - len(found)):
                completion = self._completion(number, spans)
                if completion is not None:
                    found.setdefault(number, completion)
        return list(found.values())[:limit]

    def _range(self, prefix: str) -> tuple[int, int]:
        key = prefix[:MAX_KEY_CHARS]
        lo = bisect.bisect_left(self.keys, key)
        return lo, bisect.bisect_right(self.keys, key + "\U0010ffff", lo)

    def _starting(self, query: str, limit: int) -> list[tuple[int, int]]:
        """(entry, offset) of the keys that start with the query, best first."""
        lo, hi = self._range(query)
        key = query[:MAX_KEY_CHARS]
        if hi - lo > SCAN_LIMIT and key in self.ranked:
            return [(n, o) for n, o in self.ranked[key]]
        scores = {i: _score(self.entries[self.refs[i]], self.offsets[i]) for i in range(lo, hi)}
        return _best_of(scores, self.refs, self.offsets, limit)

    def _all_words(self, words: list[str], skip: set[int], limit: int) -> list[tuple[int, list[tuple[int, str]]]]:
        """Entries in which every word starts a word (in any order), best first, with where each starts."""
        # Entries holding a word that starts with each typed word: set intersections, at C speed.
        pools = sorted((set(self.refs[lo:hi]) for lo, hi in (self._range(w) for w in words)), key=len)
        candidates = pools[0].difference(skip)
        for pool in pools[1:]:
            candidates &= pool
        best = heapq.nsmallest(limit * 2, candidates, key=lambda n: (-_score(self.entries[n], 1), n))
        found: list[tuple[float, int, list[tuple[int, str]]]] = []
        for number in best:
            words_of = self._words.get(number)
            if words_of is None:
                text = normalized(self.entries[number].text)
                words_of = self._words[number] = (text, list(word_starts(text)))
            text, starts = words_of
            spans = []
            for word in words:
                at = next((p for p in starts if text.startswith(word, p)), None)
                if at is None:  # cut keys: the word starts a word beyond MAX_KEY_CHARS
                    break
                spans.append((at, word))
            else:
                score = _score(self.entries[number], min(p for p, _ in spans)) - SCATTERED_PENALTY
                found.append((score, number, spans))
        found.sort(key=lambda item: (-item[0], item[1]))
        return [(number, spans) for _, number, spans in found[:limit]]

    def _completion(self, number: int, spans: list[tuple[int, str]]) -> Completion | None:
        """A completion with the typed parts marked in the text as the reader sees it."""
        entry = self.entries[number]
        text, origin = normalize(entry.text)
        marks = []
        for offset, typed in spans:
            if not typed or not text.startswith(typed, offset):  # keys are cut at MAX_KEY_CHARS
                return None
            end = offset + len(typed)
            marks.append((origin[offset], origin[end - 1] + 1))
        return Completion(entry.kind, entry.text, tuple(sorted(marks)), entry.target, entry.lang)
