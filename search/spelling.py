"""Spelling correction against the index's own English vocabulary.

Whoosh's FuzzyTerm walks the whole term list for every query (0.7-2 s at 50k
articles). Here each known word is stored under its one-character deletions once
per index; a misspelt word is looked up by its own deletions, which finds every
word within two edits (symmetric delete), and the most common closest word wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

MIN_WORD = 4
MAX_WORD = 24
MAX_DISTANCE = 2


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def distance(a: str, b: str, limit: int = MAX_DISTANCE) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, cut off above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


class SpellingCorrector:
    """Suggests the closest frequent word the index knows."""

    def __init__(self, words: Iterable[tuple[str, int]], min_frequency: int = 2) -> None:
        self.frequency: dict[str, int] = {}
        self.by_delete: dict[str, list[str]] = defaultdict(list)
        for word, frequency in words:
            if frequency < min_frequency or not MIN_WORD - 1 <= len(word) <= MAX_WORD:
                continue
            self.frequency[word] = frequency
            self.by_delete[word].append(word)
            for deleted in _deletes(word):
                self.by_delete[deleted].append(word)

    def __contains__(self, word: str) -> bool:
        return word in self.frequency

    def correct(self, word: str) -> str | None:
        """The best correction of `word`, or None if it is known or nothing is close."""
        word = word.lower()
        if word in self.frequency or not MIN_WORD <= len(word) <= MAX_WORD:
            return None
        candidates: set[str] = set(self.by_delete.get(word, ()))
        for deleted in _deletes(word):
            candidates.update(self.by_delete.get(deleted, ()))
        best: tuple[int, int, str] | None = None
        limit = 1 if len(word) < 6 else MAX_DISTANCE
        for candidate in candidates:
            d = distance(word, candidate, limit)
            if d > limit:
                continue
            key = (d, -self.frequency[candidate], candidate)
            if best is None or key < best:
                best = key
        return best[2] if best else None
