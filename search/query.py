"""Query syntax and its translation into query trees (search.scoring).

Syntax (deliberately small, so hostile input has nothing to expand):
  words               one or two words: all of them (any, when that finds too little);
                      more: any of them, articles with all of them ranked up
  "a phrase"          words in this order
  -word  -"phrase"    exclude
  field:value         category, tag, product, type, lang, state (quote values with spaces)
  prefix*             words starting with `prefix` (at least 2 characters; capped expansion)
Everything else (parentheses, AND/OR, brackets, `~`, `^`) is ordinary text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from whoosh import query as wq

from search.analysis import _FULLWIDTH, QUERY_STOP_WORDS, Piece, Segmenter, stem
from search.errors import QueryError
from search.schema import FIELD_WEIGHTS, FILTER_FIELDS
from search.scoring import All, Any_, Node, Phrase, Term

MAX_QUERY_CHARS = 1000
MAX_UNITS = 32  # words after analysis; more only slow the query down
MAX_PREFIX_TERMS = 64  # expansions per prefix and field
MIN_PREFIX_CHARS = 2
SYNONYM_WEIGHT = 0.5
MAX_PROXIMITY_PAIRS = 4  # neighbouring query words checked for standing close (search.service)

_CLAUSE = re.compile(r'(?P<neg>-(?=\S))?(?:(?P<field>[A-Za-z]+):(?=\S))?(?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s"]+))')


@dataclass
class ParsedQuery:
    """A query split into its parts, before analysis."""

    text: list[str] = field(default_factory=list)  # free-text chunks
    phrases: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # words or phrases
    filters: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.text or self.phrases or self.prefixes)


def parse_query(raw: str) -> ParsedQuery:
    """Split a query into text, phrases, prefixes, exclusions and filters."""
    if len(raw) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(raw):,} characters long; the limit is {MAX_QUERY_CHARS:,}")
    folded = raw.translate(_FULLWIDTH).replace("\u201c", '"').replace("\u201d", '"')
    parsed = ParsedQuery()
    for match in _CLAUSE.finditer(folded):
        neg, name, quoted, bare = match.group("neg"), match.group("field"), match.group("quoted"), match.group("bare")
        value = quoted if quoted is not None else bare or ""
        if name and name.lower() in FILTER_FIELDS:
            if value.strip():
                parsed.filters.setdefault(FILTER_FIELDS[name.lower()], []).append(value.strip().lower())
            continue
        if name:  # not a filter (C:\Windows, http://...): the whole thing is text
            value = f"{name}:{value}"
        if not value.strip():
            continue
        if neg:
            parsed.excluded.append(value)
        elif quoted is not None:
            parsed.phrases.append(value)
        elif "*" in value:
            parsed.prefixes.append(_prefix(value))
        elif value in ("AND", "OR", "NOT", "&&", "||"):
            continue
        else:
            parsed.text.append(value)
    return parsed


def _prefix(value: str) -> str:
    stem_part = value.rstrip("*")
    if "*" in stem_part or "?" in stem_part:
        raise QueryError(f"{value!r}: a wildcard may only end a word, as in `print*`")
    if len(stem_part) < MIN_PREFIX_CHARS and not re.search(r"[\u3400-\u9fff]", stem_part):
        raise QueryError(f"{value!r}: put at least {MIN_PREFIX_CHARS} characters before `*`")
    return stem_part


@dataclass
class CompiledQuery:
    """A request as query trees: each unit is a word, identifier, synonym group, phrase or prefix."""

    units: list[Node]  # empty: no text (filters only)
    exclude: Node | None
    highlight: list[str]  # surface words, stems and phrases to mark in snippets
    corrections: dict[str, str] = field(default_factory=dict)
    proximity: list[tuple[str, str]] = field(default_factory=list)  # neighbouring query words, as index terms


class QueryCompiler:
    """Turns a ParsedQuery into query trees against one open index."""

    def __init__(self, segmenter: Segmenter, synonyms: Sequence[Sequence[str]],
                 has_term: Callable[[str], bool], expand_prefix: Callable[[str, str], Iterable[str]],
                 correct: Callable[[str], str | None]) -> None:
        self.segmenter = segmenter
        self.has_term = has_term
        self.expand_prefix = expand_prefix
        self.correct = correct
        self.synonyms: dict[tuple[str, ...], list[list[Piece]]] = {}
        for group in synonyms:
            analysed = [list(segmenter.pieces(word, subwords=False)) for word in group]
            for index, pieces in enumerate(analysed):
                if not pieces:
                    continue
                key = tuple(p.term for p in pieces)
                others = [a for j, a in enumerate(analysed) if j != index and a]
                self.synonyms.setdefault(key, []).extend(others)

    # -- building blocks -------------------------------------------------------------
    @staticmethod
    def term_query(term: str, boost: float = 1.0) -> Node:
        return Term(term, boost)

    @staticmethod
    def phrase_query(terms: Sequence[str], boost: float = 1.0) -> Node:
        if len(terms) == 1:
            return Term(terms[0], boost)
        return Phrase(tuple(terms), boost)

    def piece_query(self, piece: Piece, boost: float = 1.0) -> Node:
        if piece.kind == "ident" and piece.parts:
            return Any_((Term(piece.term, boost), self.phrase_query(piece.parts, boost * 0.8)))
        if piece.kind == "cjk" and len(piece.term) > 2 and not self.has_term(piece.term):
            # A word the index never segmented this way: require its sub-words instead.
            subs = [w for w, s, e in self.segmenter.pieces_search(piece.term) if (s, e) != (0, len(piece.term))]
            subs = [w for w in dict.fromkeys(subs) if self.has_term(w)]
            if subs:
                return All(tuple(Term(w, boost) for w in subs))
        return self.term_query(piece.term, boost)

    @staticmethod
    def phrase_terms(pieces: Iterable[Piece]) -> list[str]:
        terms: list[str] = []
        for piece in pieces:
            terms.extend(piece.parts if piece.parts else [piece.term])
        return terms

    def pieces_query(self, pieces: Sequence[Piece], boost: float = 1.0) -> Node:
        if len(pieces) == 1:
            return self.piece_query(pieces[0], boost)
        return self.phrase_query(self.phrase_terms(pieces), boost)

    # -- the whole query -------------------------------------------------------------
    def compile(self, parsed: ParsedQuery) -> CompiledQuery:
        highlight: list[str] = []
        corrections: dict[str, str] = {}
        pieces: list[Piece] = []
        for chunk in parsed.text:
            for piece in self.segmenter.pieces(chunk, subwords=False):
                fixed = self._corrected(piece)
                if fixed is not None:
                    corrections[piece.surface] = fixed[0].surface if len(fixed) == 1 else " ".join(
                        p.surface for p in fixed)
                    pieces.extend(fixed)
                else:
                    pieces.append(piece)
        content = [p for p in pieces if p.surface not in QUERY_STOP_WORDS]
        pieces = content or pieces
        units = self._units(pieces[:MAX_UNITS], highlight)
        proximity = [(a.term, b.term) for a, b in pairwise(pieces[:MAX_PROXIMITY_PAIRS + 1])
                     if not a.parts and not b.parts and a.term != b.term]
        for phrase in parsed.phrases:
            phrase_pieces = list(self.segmenter.pieces(phrase, subwords=False))
            if phrase_pieces:
                units.append(self.pieces_query(phrase_pieces))
                highlight.extend(p.surface for p in phrase_pieces)
        for prefix in parsed.prefixes:
            units.append(self._prefix_query(prefix))
            highlight.append(prefix.lower() + "*")
        if len(units) > MAX_UNITS:
            raise QueryError(f"query has {len(units)} words and phrases; the limit is {MAX_UNITS}")
        exclude = None
        if parsed.excluded:
            excluded = [self.pieces_query(ps) for ps in
                        (list(self.segmenter.pieces(x, subwords=False)) for x in parsed.excluded) if ps]
            exclude = Any_(tuple(excluded)) if excluded else None
        return CompiledQuery(units, exclude, highlight, corrections, proximity)

    def _corrected(self, piece: Piece) -> list[Piece] | None:
        """Pieces for the corrected spelling of an English word the index does not know."""
        if piece.kind != "word" or len(piece.surface) < 4 or not piece.surface.isalpha() or \
                not piece.surface.isascii() or self.has_term(piece.term):
            return None
        fixed = self.correct(piece.surface)
        if not fixed or fixed == piece.surface:
            return None
        replacement = list(self.segmenter.pieces(fixed, subwords=False))
        if not replacement:
            return None
        first = replacement[0]
        replacement[0] = Piece(first.term, piece.start, piece.end, first.kind, first.surface, first.parts)
        return replacement

    def _units(self, pieces: list[Piece], highlight: list[str]) -> list[Node]:
        units: list[Node] = []
        index = 0
        while index < len(pieces):
            for size in (3, 2, 1):  # longest synonym key first
                key = tuple(p.term for p in pieces[index:index + size])
                if len(key) == size and key in self.synonyms:
                    span = pieces[index:index + size]
                    alternatives = [self.pieces_query(span)] + [
                        self.pieces_query(alt, SYNONYM_WEIGHT) for alt in self.synonyms[key]]
                    units.append(Any_(tuple(alternatives)))
                    highlight.extend(p.surface for p in span)
                    for alt in self.synonyms[key]:
                        highlight.extend(p.surface for p in alt)
                    index += size
                    break
            else:
                piece = pieces[index]
                units.append(self.piece_query(piece))
                highlight.append(piece.surface)
                if piece.term != piece.surface:
                    highlight.append(piece.term + "*")
                index += 1
        return units

    def _prefix_query(self, prefix: str) -> Node:
        text = prefix.lower()
        candidates = dict.fromkeys([text, stem(text)])
        seen: set[str] = set()
        for name in FIELD_WEIGHTS:
            for candidate in candidates:
                for count, term in enumerate(self.expand_prefix(name, candidate)):
                    if count >= MAX_PREFIX_TERMS:
                        break
                    seen.add(term)
        return Any_(tuple(Term(t) for t in sorted(seen)))


def filter_query(filters: dict[str, list[str]]) -> wq.Query | None:
    """All filters must hold; several values of one filter are alternatives."""
    clauses = []
    for name, values in filters.items():
        terms = [wq.Term(name, v) for v in dict.fromkeys(values)]
        clauses.append(terms[0] if len(terms) == 1 else wq.Or(terms))
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else wq.And(clauses)
