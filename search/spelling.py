"""Spelling correction against the index's own vocabulary: English words and Chinese homophones.

Whoosh's FuzzyTerm walks the whole term list for every query (0.7-2 s at 50k
articles). Here each known word is stored under its one-character deletions once
per index; a misspelt word is looked up by its own deletions, which finds every
word within two edits (symmetric delete), and the most common closest word wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from kb.files import read_json_object

MIN_WORD = 4
MAX_WORD = 24
MAX_DISTANCE = 2
SMALL_KB = 1000  # articles
MIN_SWAP_WORD = 6  # shorter words allow one edit only (two edits make a different short word)
MIN_HOMOPHONE_FREQUENCY = 3  # articles holding a word before a homophone is corrected to it
MAX_HOMOPHONE_CHARS = 4
HOMOPHONE_RATIO = 20  # how much more common the correction must be than the word typed


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
        # Letters swapped further apart (`granafa` for `grafana`) are two edits that one-character
        # deletes do not find; the same letters in another order do.
        self.by_letters: dict[str, list[str]] = defaultdict(list)
        for word, frequency in words:
            if frequency < min_frequency or not MIN_WORD - 1 <= len(word) <= MAX_WORD:
                continue
            self.frequency[word] = frequency
            self.by_delete[word].append(word)
            for deleted in _deletes(word):
                self.by_delete[deleted].append(word)
            if len(word) >= MIN_SWAP_WORD:
                self.by_letters["".join(sorted(word))].append(word)

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
        candidates.update(self.by_letters.get("".join(sorted(word)), ()))
        best: tuple[int, int, str] | None = None
        limit = 1 if len(word) < MIN_SWAP_WORD else MAX_DISTANCE
        for candidate in candidates:
            d = distance(word, candidate, limit)
            if d > limit:
                continue
            key = (d, -self.frequency[candidate], candidate)
            if best is None or key < best:
                best = key
        return best[2] if best else None


def load_corrector(counts_file: Path, articles: int) -> SpellingCorrector:
    """The corrector of a build's English words (`spelling.json`: word -> articles holding it)."""
    counts = read_json_object(counts_file) or {}
    # In a small knowledge base a word seen once is still a word; in a big one it is often a typo.
    min_frequency = 1 if articles < SMALL_KB else 2
    return SpellingCorrector(counts.items(), min_frequency)


class HomophoneCorrector:
    """Chinese words typed with the wrong characters of the same sound (`所引` for `索引`, `事物`
    for `事务`: a pinyin input method's first choice), corrected to the index's frequent word
    that sounds the same.

    Built from the index's Chinese words and their document frequencies, once per build, in the
    background (a few seconds at 10k articles: pinyin of each word), never under a request's lock.
    """

    def __init__(self, words: Iterable[tuple[str, int]], min_frequency: int = MIN_HOMOPHONE_FREQUENCY) -> None:
        from pypinyin import lazy_pinyin

        self._pinyin = lazy_pinyin
        self.frequency: dict[str, int] = {}
        self.by_sound: dict[str, tuple[int, str]] = {}
        for word, frequency in words:
            if not 2 <= len(word) <= MAX_HOMOPHONE_CHARS:
                continue
            self.frequency[word] = frequency
            if frequency < min_frequency:
                continue
            sound = "".join(lazy_pinyin(word))
            best = self.by_sound.get(sound)
            if best is None or (frequency, word) > best:
                self.by_sound[sound] = (frequency, word)

    def correct(self, word: str) -> str | None:
        """The common word `word` sounds like, when the index never holds `word` or holds the other
        HOMOPHONE_RATIO times as often; else None."""
        if not 2 <= len(word) <= MAX_HOMOPHONE_CHARS:
            return None
        found = self.by_sound.get("".join(self._pinyin(word)))
        if found is None or found[1] == word:
            return None
        frequency, right = found
        own = self.frequency.get(word, 0)  # a word the index never holds: any common homophone
        return right if not own or frequency >= HOMOPHONE_RATIO * own else None
