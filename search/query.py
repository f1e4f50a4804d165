"""Query syntax and its translation into query trees (search.scoring).

A query is text first: whatever is pasted (a PowerShell command with `-Parameters` and `$true`,
`SELECT * FROM`, `*** STOP: 0x0000007B`, an SQL hint, Markdown, a stack trace) is searched as
text and never refused for its syntax. An operator applies only where it is plainly meant:
  "a phrase"          words in this order (a closed pair of quotes)
  field:value         category, tag, product, type, lang, state (quote values with spaces)
  -word  -"phrase"    exclude: only in a short query (SHORT_QUERY_WORDS), on a lower-case
                      word or a phrase, when nothing in the query looks like code
  prefix*             words starting with `prefix` (same conditions; at least 2 characters)
Everything else (`*` elsewhere, `-Param`, parentheses, AND/OR, brackets, `~`, `^`) is text.
Words: one or two must all match (any, when that finds too little); more: any of them, articles
with all of them ranked up (search.service). A query longer than MAX_QUERY_CHARS is cut there,
and of a long query only its MAX_UNITS most distinctive words are looked up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from whoosh import query as wq

from search.analysis import _FULLWIDTH, QUERY_STOP_WORDS, Piece, Segmenter, stem
from search.schema import FIELD_WEIGHTS, FILTER_FIELDS
from search.scoring import All, Any_, Node, Phrase, Term

# A pasted stack trace or log can be long; its message is near the start. Longer queries are cut
# here (at a space), so analysing a hostile 100 kB query costs no more than a 2 kB one.
MAX_QUERY_CHARS = 2000
MAX_UNITS = 32  # words looked up; of a longer query, the most distinctive (rarest) ones
MAX_PREFIX_TERMS = 64  # expansions per prefix and field
MIN_PREFIX_CHARS = 2
SYNONYM_WEIGHT = 0.5
MAX_PROXIMITY_PAIRS = 4  # neighbouring query words checked for standing close (search.service)
# Operators (-word, prefix*) are read as such only in queries of at most this many words:
# people type `vpn -mac` or `print*`; pasted commands and errors are longer or look like code.
SHORT_QUERY_WORDS = 4
MAX_VERBATIM_TERMS = 64  # query terms matched as a verbatim run (search.service)
VERBATIM_DISTINCT = 3
RARE_WORD = 2  # a word in at most this many articles may be a typo of a common one (`lighting`, `tivk`)

_CLAUSE = re.compile(r'(?P<neg>-(?=\S))?(?:(?P<field>[A-Za-z]+):(?=\S))?(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]+|"))')
# Tokens that say "this is code, not a search with operators": PowerShell Verb-Noun cmdlets,
# variables, assignments, SQL/C comments, command-line switches with values.
_CODE = re.compile(r"^[A-Z][a-z]+-[A-Z]|[$=;{}<>|]|^/\*|\*/$|^--|^[A-Za-z]+\(")
_EXCLUDABLE = re.compile(r"^[a-z0-9\u3400-\u9fff][a-z0-9\u3400-\u9fff._]*$")
_PREFIX = re.compile(r"^[A-Za-z0-9\u3400-\u9fff][A-Za-z0-9\u3400-\u9fff._-]*\*$")
_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")


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


def cut_query(raw: str) -> str:
    """The part of a query that is read: at most MAX_QUERY_CHARS, cut at a space when one is near."""
    if len(raw) <= MAX_QUERY_CHARS:
        return raw
    cut = raw[:MAX_QUERY_CHARS]
    space = cut.rfind(" ", MAX_QUERY_CHARS - 200)
    return cut[:space] if space > 0 else cut


def parse_query(raw: str) -> ParsedQuery:
    """Split a query into text, phrases, prefixes, exclusions and filters; never fails."""
    folded = cut_query(raw).translate(_FULLWIDTH).replace("\u201c", '"').replace("\u201d", '"')
    tokens = folded.split()
    operators = len(tokens) <= SHORT_QUERY_WORDS and not any(_CODE.search(t) for t in tokens)
    parsed = ParsedQuery()
    for match in _CLAUSE.finditer(folded):
        neg, name, quoted, bare = match.group("neg"), match.group("field"), match.group("quoted"), match.group("bare")
        value = quoted if quoted is not None else bare or ""
        if name and name.lower() in FILTER_FIELDS and (quoted is not None or value != '"'):
            if value.strip():
                parsed.filters.setdefault(FILTER_FIELDS[name.lower()], []).append(value.strip().lower())
            continue
        if name:  # not a filter (C:\Windows, http://...): the whole thing is text
            value = f"{name}:{value}"
        if not value.strip() or value == '"':
            continue
        if neg and operators and (quoted is not None or _EXCLUDABLE.match(value)):
            parsed.excluded.append(value)
        elif quoted is not None:
            parsed.phrases.append(value)
        elif operators and _PREFIX.match(value) and (
                len(value) > MIN_PREFIX_CHARS or _CJK_CHAR.match(value)):
            parsed.prefixes.append(value[:-1])
        elif value in ("AND", "OR", "NOT", "&&", "||"):
            continue
        else:
            parsed.text.append(f"-{value}" if neg else value)
    return parsed


@dataclass
class CompiledQuery:
    """A request as query trees: each unit is a word, identifier, synonym group, phrase or prefix."""

    units: list[Node]  # empty: no text (filters only)
    exclude: Node | None
    highlight: list[str]  # surface words, stems and phrases to mark in snippets
    corrections: dict[str, str] = field(default_factory=dict)
    proximity: list[tuple[str, str]] = field(default_factory=list)  # neighbouring query words, as index terms
    verbatim: list[str] = field(default_factory=list)  # the query's terms in order, stop words too
    typed: bool = False  # the query had text (words, phrases or prefixes), searchable or not


class QueryCompiler:
    """Turns a ParsedQuery into query trees against one open index."""

    def __init__(self, segmenter: Segmenter, synonyms: Sequence[Sequence[str]],
                 has_term: Callable[[str], bool], expand_prefix: Callable[[str, str], Iterable[str]],
                 correct: Callable[[str], str | None],
                 frequency: Callable[[str], int] | None = None,
                 homophone: Callable[[str], str | None] | None = None) -> None:
        """`frequency`: how many articles hold a term (picks a long query's rarest words);
        `homophone`: the common Chinese word a mistyped one sounds like (search.spelling)."""
        self.segmenter = segmenter
        self.frequency = frequency
        self.homophone = homophone
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
    def compile(self, parsed: ParsedQuery, correct: bool = True) -> CompiledQuery:
        """Query trees for a parsed query; `correct`: search misspelt words as their correction."""
        highlight: list[str] = []
        corrections: dict[str, str] = {}
        pieces: list[Piece] = []
        for chunk in parsed.text:
            chunk_pieces = list(self.segmenter.pieces(chunk, subwords=False))
            if correct and self.homophone is not None:
                chunk_pieces = self._sound_alike(chunk_pieces, corrections)
            for piece in chunk_pieces:
                fixed = self._corrected(piece) if correct else None
                if fixed is not None:
                    corrections[piece.surface] = fixed[0].surface if len(fixed) == 1 else " ".join(
                        p.surface for p in fixed)
                    pieces.extend(fixed)
                else:
                    pieces.append(piece)
        verbatim = self.phrase_terms(pieces)[:MAX_VERBATIM_TERMS]
        content = [p for p in pieces if p.surface not in QUERY_STOP_WORDS]
        first: dict[str, Piece] = {}
        for piece in content or pieces:  # each word once, where it first stood
            first.setdefault(piece.term, piece)
        pieces = list(first.values())
        if len(pieces) > MAX_UNITS:
            pieces = self._distinctive(pieces, MAX_UNITS)
        units = self._units(pieces, highlight)
        proximity = [(a.term, b.term) for a, b in pairwise(pieces[:MAX_PROXIMITY_PAIRS + 1])
                     if not a.parts and not b.parts and a.term != b.term]
        for phrase in parsed.phrases[:MAX_UNITS]:
            phrase_pieces = list(self.segmenter.pieces(phrase, subwords=False))
            if phrase_pieces:
                units.append(self.pieces_query(phrase_pieces))
                highlight.extend(p.surface for p in phrase_pieces)
        for prefix in parsed.prefixes:
            units.append(self._prefix_query(prefix))
            highlight.append(prefix.lower() + "*")
        units = units[:MAX_UNITS]
        exclude = None
        if parsed.excluded:
            excluded = [self.pieces_query(ps) for ps in
                        (list(self.segmenter.pieces(x, subwords=False)) for x in parsed.excluded) if ps]
            exclude = Any_(tuple(excluded)) if excluded else None
        # A run needs three different terms to say more than the words alone (and `-a -a -a ...`
        # must not read the positions of one common word sixty times).
        verbatim = verbatim if len(set(verbatim)) >= VERBATIM_DISTINCT else []
        return CompiledQuery(units, exclude, highlight, corrections, proximity, verbatim, not parsed.empty)

    def _distinctive(self, pieces: list[Piece], count: int) -> list[Piece]:
        """The `count` most distinctive of a long query's words, in query order: the rarest words
        the index knows, bare numbers last (line numbers and counts in a pasted trace or log)."""
        frequency = self.frequency
        if frequency is None:
            return pieces[:count]

        def rarity(index: int) -> tuple[bool, bool, int, int]:
            piece = pieces[index]
            found = frequency(piece.term)
            return piece.term.isdigit(), found == 0, found, index

        keep = sorted(sorted(range(len(pieces)), key=rarity)[:count])
        return [pieces[i] for i in keep]

    def _sound_alike(self, pieces: list[Piece], corrections: dict[str, str]) -> list[Piece]:
        """Chinese words typed with the wrong characters of the same sound, corrected: a word, or
        two one-character words that the segmenter split a mistyped word into (所引 -> 所 引)."""
        homophone = self.homophone
        assert homophone is not None
        out: list[Piece] = []
        index = 0
        while index < len(pieces) and index < MAX_UNITS * 2:  # a pasted Chinese page: its start
            piece = pieces[index]
            span = 1
            word = piece.surface
            if piece.kind == "cjk" and len(word) == 1 and index + 1 < len(pieces):
                after = pieces[index + 1]
                if after.kind == "cjk" and len(after.surface) == 1 and after.start == piece.end:
                    word, span = word + after.surface, 2
            fixed = homophone(word) if piece.kind == "cjk" and len(word) >= 2 else None
            if fixed is None:
                out.append(piece)
                index += 1
                continue
            corrections[word] = fixed
            out.append(Piece(fixed, piece.start, pieces[index + span - 1].end, "cjk", fixed))
            index += span
        return out + pieces[index:]

    def _corrected(self, piece: Piece) -> list[Piece] | None:
        """Pieces for the corrected spelling of an English word the index does not know."""
        if piece.kind != "word" or len(piece.surface) < 4 or not piece.surface.isalpha() or \
                not piece.surface.isascii():
            return None
        if self.has_term(piece.term) and (self.frequency is None or self.frequency(piece.term) > RARE_WORD):
            return None  # a word the index knows (a typo the index holds once or twice is still a typo)
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
        terms = sorted(seen)
        if len(terms) > MAX_PREFIX_TERMS and self.frequency is not None:  # the most common expansions
            frequency = self.frequency
            terms = sorted(sorted(terms, key=lambda t: -frequency(t))[:MAX_PREFIX_TERMS])
        return Any_(tuple(Term(t) for t in terms[:MAX_PREFIX_TERMS]))


def filter_query(filters: dict[str, list[str]]) -> wq.Query | None:
    """All filters must hold; several values of one filter are alternatives."""
    clauses = []
    for name, values in filters.items():
        terms = [wq.Term(name, v) for v in dict.fromkeys(values)]
        clauses.append(terms[0] if len(terms) == 1 else wq.Or(terms))
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else wq.And(clauses)
