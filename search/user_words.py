"""Words users used, as a low-weight ranking signal: `user_words.json` in the index folder.

`kb boosts` (and `kb sync --watch`) write {"article-id": ["a ticket subject", "a query that
ended on it", ...]} from the records: subjects of tickets an article resolved and searches
that ended on it with a click. No rebuild: like boosts.json, a new file is read on the next
query. An article whose user words hold the query's words scores more:

    score x (1 + WEIGHT x share of the query's words found in its user words)

where a word used once counts half and a word used three times or more fully: one ticket whose
subject was the query multiplies by 1.5, a habit of users by at most 2. It only reorders articles
the query already matched, so it never brings in one that has none of the words. WEIGHT was
tuned on half of each shared relevance set (0.3, 0.6, 1.0: the held-back half never moved; the
tuning half rose most at 1.0; bench/README.md).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import defaultdict
from pathlib import Path

from search.analysis import QUERY_STOP_WORDS, Segmenter

log = logging.getLogger(__name__)

USER_WORDS = "user_words.json"
WEIGHT = 1.0
MAX_PHRASES_PER_ARTICLE = 500  # the newest ones: enough signal, bounded memory


class UserWords:
    """The user words of one index folder as term -> {docnum: weight}, reread when the file changes."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / USER_WORDS
        self._key: tuple[float, int] | None = None
        self._terms: dict[str, dict[int, float]] = {}
        self._lock = threading.Lock()

    def terms(self, doc_ids: dict[int, str], segmenter: Segmenter) -> dict[str, dict[int, float]]:
        """term -> {docnum: weight} for the build these doc ids belong to ({} without the file)."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return {}
        key = (mtime, id(doc_ids))
        with self._lock:
            if key != self._key:
                self._terms, self._key = _read(self.path, doc_ids, segmenter), key
            return self._terms

    def boost(self, scores: dict[int, float], query: str, doc_ids: dict[int, str], segmenter: Segmenter) -> None:
        """Multiply the scores of matched articles whose user words hold the query's words (in place)."""
        if not scores:
            return
        table = self.terms(doc_ids, segmenter)
        if not table:
            return
        words = {p.term for p in segmenter.pieces(query, subwords=False) if p.surface not in QUERY_STOP_WORDS}
        if not words:
            return
        share: dict[int, float] = defaultdict(float)
        for word in words:
            for docnum, weight in table.get(word, {}).items():
                if docnum in scores:
                    share[docnum] += weight / len(words)
        for docnum, value in share.items():
            scores[docnum] *= 1.0 + WEIGHT * min(1.0, value)


def _read(path: Path, doc_ids: dict[int, str], segmenter: Segmenter) -> dict[str, dict[int, float]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        log.warning("ignoring %s: expected an object of article id -> list of texts", path)
        return {}
    by_id = {article_id: docnum for docnum, article_id in doc_ids.items()}
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for article_id, phrases in data.items():
        docnum = by_id.get(article_id)
        if docnum is None or not isinstance(phrases, list):
            continue
        for phrase in phrases[-MAX_PHRASES_PER_ARTICLE:]:
            if isinstance(phrase, str):
                for term in {p.term for p in segmenter.pieces(phrase[:500], subwords=False)}:
                    counts[term][docnum] += 1
    # A word used once counts half, three times or more fully: one odd query moves little.
    return {term: {d: min(1.0, math.log2(1 + n) / 2) for d, n in docs.items()} for term, docs in counts.items()}
