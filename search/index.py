"""Opening the live build for reading, and noticing when a new one is swapped in.

`open_index(index_dir)` returns an IndexHandle; `handle.snapshot()` costs one
readlink (and one stat for boosts.json) per call and reopens the index only when
`current` points somewhere new. Open one handle per process and reuse it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.index import EmptyIndexError
from whoosh.searching import Searcher

from kb.files import read_json_object
from search.analysis import KbTokenizer, Segmenter
from search.build import BOOSTS, CURRENT, MANIFEST, SPELLING, current_build
from search.errors import IndexMissingError
from search.schema import FACET_FIELDS
from search.spelling import SpellingCorrector, load_corrector

log = logging.getLogger(__name__)

STATE_BOOST = {"validated": 1.25, "unverified": 1.0, "archived": 0.6, "draft": 0.5}
MAX_USAGE_BOOST = 3.0


@dataclass
class Snapshot:
    """One opened build: a searcher to reuse and per-document data read once.

    Whoosh searchers are not thread-safe; hold `lock` while using `searcher`.
    """

    build_dir: Path
    searcher: Searcher
    segmenter: Segmenter
    manifest: dict[str, Any]
    synonyms: list[tuple[str, ...]]
    doc_ids: dict[int, str]
    doc_state: dict[int, str]
    facet_docs: dict[str, dict[str, frozenset[int]]]  # field -> value -> docnums
    lock: threading.RLock = field(default_factory=threading.RLock)
    _corrector: SpellingCorrector | None = None
    usage: dict[int, float] = field(default_factory=dict)
    usage_mtime: float | None = None
    factors: dict[int, float] = field(default_factory=dict)  # docnum -> multiplier, where not 1

    def __post_init__(self) -> None:
        self.set_usage(self.usage, self.usage_mtime)

    def set_usage(self, usage: dict[int, float], mtime: float | None) -> None:
        """Install usage boosts; state and usage combine into one multiplier per article."""
        factors = {}
        for docnum, state in self.doc_state.items():
            value = STATE_BOOST.get(state, 1.0) * usage.get(docnum, 1.0)
            if value != 1.0:
                factors[docnum] = value
        for docnum, value in usage.items():
            if docnum not in self.doc_state and value != 1.0:
                factors[docnum] = value
        with self.lock:
            self.usage, self.usage_mtime, self.factors = usage, mtime, factors

    @property
    def corrector(self) -> SpellingCorrector:
        """Built by warming (search/warming.py, outside the lock) or else on first use, then kept."""
        if self._corrector is None:
            self.prepare_corrector()
        assert self._corrector is not None
        return self._corrector

    def prepare_corrector(self) -> None:
        """Build the spelling corrector without holding the lock (1-6 s at 30k-70k distinct words:
        requests go on meanwhile), unless a request built it first."""
        if self._corrector is not None:
            return
        corrector = self._build_corrector()
        with self.lock:
            if self._corrector is None:
                self._corrector = corrector

    def _build_corrector(self) -> SpellingCorrector:
        return load_corrector(self.build_dir / SPELLING, len(self.doc_ids))

    def factor(self, docnum: int) -> float:
        """Score multiplier for article state and the usage signal."""
        return self.factors.get(docnum, 1.0)

    def close(self) -> None:
        self.searcher.close()


def _postings(reader: Any, fieldname: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for term in reader.lexicon(fieldname):
        text = term.decode("utf-8") if isinstance(term, bytes) else term
        out[text] = [d for d in reader.postings(fieldname, text).all_ids() if not reader.is_deleted(d)]
    return out


def _open_snapshot(build_dir: Path) -> Snapshot:
    try:
        ix = whoosh_index.open_dir(str(build_dir))
    except (EmptyIndexError, OSError) as exc:
        raise IndexMissingError(f"cannot open the index in {build_dir}: {exc}; run `kb build`") from exc
    searcher = ix.searcher()
    reader = searcher.reader()
    analyzer = ix.schema["body"].analyzer
    segmenter = analyzer.segmenter if isinstance(analyzer, KbTokenizer) else Segmenter()
    doc_ids = {d: i for i, ds in _postings(reader, "id").items() for d in ds}
    doc_state = {d: s for s, ds in _postings(reader, "state").items() for d in ds}
    facet_docs = {name: {value: frozenset(docs) for value, docs in _postings(reader, name).items()}
                  for name in FACET_FIELDS}
    manifest = read_json_object(build_dir / MANIFEST) or {}
    synonyms = [tuple(g) for g in manifest.get("synonyms", [])]
    return Snapshot(build_dir, searcher, segmenter, manifest, synonyms, doc_ids, doc_state, facet_docs)


class IndexHandle:
    """The index folder as seen by a long-running reader (the web app, a benchmark)."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._target: str | None = None
        self._snapshot: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        """The live build, reopened if `current` changed since the last call."""
        try:
            target = os.readlink(self.index_dir / CURRENT)
        except OSError:
            target = None
        with self._lock:
            if target is None and self._snapshot is None:
                raise IndexMissingError(f"no index in {self.index_dir}; run `kb build` first")
            if target is not None and target != self._target:
                build_dir = current_build(self.index_dir)
                if build_dir is not None:
                    # The old searcher is left to the garbage collector: a request may still use it.
                    self._snapshot = _open_snapshot(build_dir)
                    self._target = target
                    log.info("opened index build %s", build_dir.name)
            if self._snapshot is None:
                raise IndexMissingError(f"no index in {self.index_dir}; run `kb build` first")
            snapshot = self._snapshot
        self._refresh_usage(snapshot)
        return snapshot

    def current_target(self) -> str | None:
        """Which build this handle has open (the `current` link's target when it was opened), if any."""
        with self._lock:
            return self._target

    def _refresh_usage(self, snapshot: Snapshot) -> None:
        path = self.index_dir / BOOSTS
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime == snapshot.usage_mtime:
            return
        usage: dict[int, float] = {}
        if mtime is not None:
            usage = _read_usage(path, snapshot.doc_ids)
        snapshot.set_usage(usage, mtime)

    def close(self) -> None:
        with self._lock:
            if self._snapshot is not None:
                self._snapshot.close()
            self._snapshot, self._target = None, None


def _read_usage(path: Path, doc_ids: dict[int, str]) -> dict[int, float]:
    """boosts.json: {"article-id": multiplier}; bad entries are ignored with a log line."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        log.warning("ignoring %s: expected an object of article id -> number", path)
        return {}
    by_id = {i: d for d, i in doc_ids.items()}
    usage = {}
    for article_id, value in data.items():
        if article_id in by_id and isinstance(value, int | float) and value > 0:
            usage[by_id[article_id]] = min(float(value), MAX_USAGE_BOOST)
    return usage


def open_index(index_dir: Path | str) -> IndexHandle:
    """A handle on the index folder; opens the live build on first use."""
    return IndexHandle(Path(index_dir))
