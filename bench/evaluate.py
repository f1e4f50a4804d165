"""Relevance evaluation: kb search beside SQLite FTS5 (bm25), default Whoosh and a jieba BM25.

    python -m bench.evaluate [--set dev|regression|all] [--half tuning|held-back|both]
                             [--only CORPUS,...] [--kb-only] [--show-misses] [--rebuild] [--api]

Two sets of judged queries:

* **dev** (`../shared/relevance/{en,zh}-dev.jsonl`): queries written the way support people
  type (symptoms, questions, pasted errors, keywords, typos, pasted commands), judged by
  `files/...` path. Each set is split once and for all by id: odd-numbered ids are the
  **tuning** half, even-numbered ids the **held-back** half (each kind falls evenly into both).
  Scores are printed per half and per kind: MRR@10, nDCG@10, R@10 and S@1.
* **regression** (bench/relevance/*.jsonl: corpus, lang, query, relevant {id: grade}).

The corpora are loaded leniently; hits are mapped back to their paths. kb's index of each
corpus is built once into var/evaluate/ and reused (an unchanged corpus is not rebuilt; pass
--rebuild after changing the analysis). With --api, kb is also asked through the site's JSON
API (GET /api/search, Flask's test client over the same index): its scores must equal kb's.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kb.article import Article
from kb.loader import KnowledgeBase, LoadOptions, load_knowledge_base
from search.build import index_knowledge_base
from search.errors import QueryError
from search.results import SearchRequest
from search.schema import plain_text
from search.service import SearchService

REPO = Path(__file__).resolve().parent.parent
RELEVANCE_DIR = REPO / "bench" / "relevance"
CORPORA = {
    "bundled": REPO / "articles",
    "ms-officedocs-support-en": REPO.parent / "shared" / "corpora" / "ms-officedocs-support-en",
    "pingcap-docs-cn-zh": REPO.parent / "shared" / "corpora" / "pingcap-docs-cn-zh",
    "pingcap-tidb-operator-en-zh": REPO.parent / "shared" / "corpora" / "pingcap-tidb-operator-en-zh",
}
DEV_DIR = REPO.parent / "shared" / "relevance"
DEV_SETS = {"en-dev": "ms-officedocs-support-en", "zh-dev": "pingcap-docs-cn-zh"}
CACHE_DIR = REPO / "var" / "evaluate"
K = 10
KINDS = ("symptom", "question", "error", "keyword", "typo", "mixed")
HALVES = ("tuning", "held-back")

Searcher = Callable[[str], list[str]]


@dataclass(frozen=True)
class Judgment:
    corpus: str
    lang: str
    query: str
    relevant: dict[str, int]  # article id (regression set) or `files/...` path (dev sets) -> grade
    kind: str = ""
    half: str = ""  # dev sets: "tuning" or "held-back"
    id: str = ""


def split_half(query_id: str) -> str:
    """The fixed split of a dev set: odd-numbered ids tune, even-numbered ids are held back."""
    return "tuning" if int(query_id.rsplit("-", 1)[1]) % 2 else "held-back"


def load_dev_judgments(folder: Path = DEV_DIR) -> list[Judgment]:
    """The shared development sets, each query tagged with its kind and half."""
    judgments = []
    for name, corpus in DEV_SETS.items():
        file = folder / f"{name}.jsonl"
        if not file.exists():
            continue
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                data = json.loads(line)
                judgments.append(Judgment(corpus, name[:2], data["query"], data["relevant"], data["kind"],
                                          split_half(data["id"]), data["id"]))
    return judgments


def load_judgments(folder: Path = RELEVANCE_DIR) -> list[Judgment]:
    """Every judged query in the relevance set."""
    judgments = []
    for file in sorted(folder.glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                data = json.loads(line)
                judgments.append(Judgment(data["corpus"], data["lang"], data["query"], data["relevant"]))
    return judgments


def reciprocal_rank(ranked: list[str], relevant: dict[str, int], k: int = K) -> float:
    for position, doc_id in enumerate(ranked[:k], start=1):
        if relevant.get(doc_id, 0) > 0:
            return 1.0 / position
    return 0.0


def ndcg(ranked: list[str], relevant: dict[str, int], k: int = K) -> float:
    gains = [(2 ** relevant.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k])]
    ideal = [(2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(sorted(relevant.values(), reverse=True)[:k])]
    return sum(gains) / sum(ideal) if ideal and sum(ideal) else 0.0


def recall(ranked: list[str], relevant: dict[str, int], k: int = K) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def success_at_1(ranked: list[str], relevant: dict[str, int]) -> float:
    return 1.0 if ranked and relevant.get(ranked[0], 0) > 0 else 0.0


METRICS: dict[str, Callable[[list[str], dict[str, int]], float]] = {
    "MRR@10": reciprocal_rank, "nDCG@10": ndcg, "R@10": recall, "S@1": success_at_1}


def load_corpus(name: str) -> KnowledgeBase:
    """Bundled articles strictly, shared corpora leniently (ids from paths)."""
    lenient = name != "bundled"
    return load_knowledge_base(CORPORA[name], LoadOptions(lenient=lenient, render=False, git_history=False))


# -- the three engines -----------------------------------------------------------------

def kb_searcher(kb: KnowledgeBase, folder: Path, full: bool = True, semantic: bool = True) -> tuple[Searcher, float]:
    """kb's service over an index of `kb` in `folder` (reused when `full` is false and nothing changed)."""
    started = time.perf_counter()
    index_knowledge_base(kb, folder, full=full, semantic=semantic)
    seconds = time.perf_counter() - started
    service = SearchService(folder, semantic=semantic, wait_for_encoder=True)

    def run(query: str) -> list[str]:
        try:
            result = service.search(SearchRequest(query, limit=K, highlight=False, facets=False))
        except QueryError:
            return []
        # A translation folded into a hit is shown with it, one click away: it counts right after it.
        return [i for h in result.hits for i in (h.id, *(t.id for t in h.translations))]

    return run, seconds


def by_path(run: Searcher, kb: KnowledgeBase) -> Searcher:
    """A searcher answering with articles' paths instead of their ids (the dev sets judge paths)."""
    paths = {a.id: a.path for a in kb.articles}
    return lambda query: [paths.get(i, i) for i in run(query)]


def api_searcher(articles_dir: Path, index_dir: Path, database: Path) -> tuple[Searcher, float]:
    """kb through GET /api/search, as a ticketing system or a held-out check would ask it."""
    from web.app import create_app
    from web.catalog import EXTENSION_KEY

    app = create_app({"ARTICLES_DIR": articles_dir, "INDEX_DIR": index_dir, "SECRET_KEY": "evaluate-secret-0123456789",
                      "DATABASE_URL": f"sqlite:///{database}", "WARM_TERMS": 0})
    client = app.test_client()
    app.extensions[EXTENSION_KEY].service.wait_until_ready()  # the site's encoder and correctors load in the background

    def run(query: str) -> list[str]:
        response = client.get("/api/search", query_string={"q": query, "limit": K})
        if response.status_code != 200:
            return []
        return [i for hit in response.get_json()["hits"] for i in (hit["id"], *(t["id"] for t in hit["translations"]))]

    return run, 0.0


_FTS_TOKEN = re.compile(r"\w+")


def _jieba_words(text: str) -> str:
    """Text cut into words by jieba (rjieba, the same segmenter kb uses), space-separated."""
    import rjieba

    return " ".join(w for w in rjieba.cut(text) if w.strip())


def fts5_searcher(articles: Iterable[Article], segment: bool = False) -> tuple[Searcher, float]:
    """SQLite FTS5 with its default tokenizer (unicode61) and bm25 (title x5); query words OR-ed.
    With `segment`, title, body and query are first cut into words by jieba: a jieba BM25."""
    started = time.perf_counter()
    cut = _jieba_words if segment else (lambda text: text)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body)")
    db.executemany("INSERT INTO docs VALUES (?, ?, ?)",
                   [(a.id, cut(a.title), cut(f"{a.summary}\n{' '.join(a.errors)}\n{plain_text(a.body)}"))
                    for a in articles])
    db.commit()
    seconds = time.perf_counter() - started

    def run(query: str) -> list[str]:
        words = _FTS_TOKEN.findall(cut(query))
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = db.execute("SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 5.0, 1.0) LIMIT ?",
                          (match, K))
        return [r[0] for r in rows]

    return run, seconds


def whoosh_default_searcher(articles: Iterable[Article], folder: Path) -> tuple[Searcher, float]:
    """Whoosh as the tutorial sets it up: StandardAnalyzer, QueryParser over title and body, words
    OR-ed (as the shared sets' baselines were measured: AND-ed, most natural queries find nothing)."""
    from whoosh import index
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.qparser import MultifieldParser, OrGroup

    started = time.perf_counter()
    schema = Schema(id=ID(stored=True, unique=True), title=TEXT, body=TEXT)
    folder.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(folder), schema)
    writer = ix.writer()
    for a in articles:
        writer.add_document(id=a.id, title=a.title, body=f"{a.summary}\n{' '.join(a.errors)}\n{plain_text(a.body)}")
    writer.commit()
    seconds = time.perf_counter() - started
    searcher = ix.searcher()
    parser = MultifieldParser(["title", "body"], schema, group=OrGroup)

    def run(query: str) -> list[str]:
        try:
            return [hit["id"] for hit in searcher.search(parser.parse(query), limit=K)]
        except Exception:  # default Whoosh fails on odd syntax; count it as no answer
            return []

    return run, seconds


# -- evaluation ------------------------------------------------------------------------

Summary = dict[str, dict[str, tuple[float, float, int]]]


def evaluate(only: set[str] | None = None, show_misses: bool = False, out: Callable[[str], None] = print,
             api: bool = False) -> Summary:
    """The regression set: print and return {engine: {group: (MRR@10, nDCG@10, queries)}}."""
    judgments = [j for j in load_judgments() if only is None or j.corpus in only]
    by_corpus: dict[str, list[Judgment]] = defaultdict(list)
    for judgment in judgments:
        by_corpus[judgment.corpus].append(judgment)
    scores: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
        for corpus, items in by_corpus.items():
            kb = load_corpus(corpus)
            articles = [a for a in kb.articles if a.state != "draft"]
            engines = {
                "kb": kb_searcher(kb, CACHE_DIR / corpus / "kb", full=False),
                "fts5": fts5_searcher(articles),
                "whoosh-default": whoosh_default_searcher(articles, Path(tmp, corpus, "whoosh")),
            }
            if api:
                engines["kb-api"] = api_searcher(CORPORA[corpus], CACHE_DIR / corpus / "kb",
                                                 Path(tmp, corpus, "records.db"))
            out(f"{corpus}: {len(articles)} articles, {len(items)} queries; build seconds: " +
                ", ".join(f"{name} {built:.1f}" for name, (_, built) in engines.items()))
            for judgment in items:
                for name, (run, _) in engines.items():
                    ranked = run(judgment.query)
                    pair = (reciprocal_rank(ranked, judgment.relevant), ndcg(ranked, judgment.relevant))
                    for group in (corpus, f"lang:{judgment.lang}", "all"):
                        scores[name][group].append(pair)
                    if show_misses and name == "kb" and pair[0] < 1.0:
                        out(f"  kb miss (MRR {pair[0]:.2f}): {judgment.query!r} -> {ranked[:3]}")
    summary = {name: {group: (sum(p[0] for p in pairs) / len(pairs), sum(p[1] for p in pairs) / len(pairs),
                              len(pairs)) for group, pairs in groups.items()} for name, groups in scores.items()}
    groups = sorted({g for s in summary.values() for g in s}, key=lambda g: (g == "all", g.startswith("lang:"), g))
    out("")
    out(f"{'group':32} {'queries':>7}  " + "  ".join(f"{name:>22}" for name in summary))
    out(f"{'':32} {'':>7}  " + "  ".join(f"{'MRR@10  nDCG@10':>22}" for _ in summary))
    for group in groups:
        count = next(s[group][2] for s in summary.values() if group in s)
        out(f"{group:32} {count:>7}  " + "  ".join(
            f"{summary[name][group][0]:>10.3f} {summary[name][group][1]:>10.3f}  " for name in summary))
    return summary


DevScores = dict[str, dict[tuple[str, str, str], dict[str, float]]]  # engine -> (set, half, kind) -> metric


def evaluate_dev(halves: tuple[str, ...] = HALVES, only: set[str] | None = None, kb_only: bool = False,
                 show_misses: bool = False, rebuild: bool = False, api: bool = False,
                 out: Callable[[str], None] = print) -> DevScores:
    """The shared dev sets: every metric per engine, set, half and kind (and "all"), printed as tables."""
    judgments = [j for j in load_dev_judgments() if j.half in halves and (only is None or j.corpus in only)]
    by_corpus: dict[str, list[Judgment]] = defaultdict(list)
    for judgment in judgments:
        by_corpus[judgment.corpus].append(judgment)
    raw: dict[str, dict[tuple[str, str, str], list[dict[str, float]]]] = defaultdict(lambda: defaultdict(list))
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
        for corpus, items in by_corpus.items():
            kb = load_corpus(corpus)
            articles = [a for a in kb.articles if a.state != "draft"]
            folder = CACHE_DIR / corpus
            kb_run, kb_seconds = kb_searcher(kb, folder / "kb", full=rebuild)
            engines: dict[str, tuple[Searcher, float]] = {"kb": (by_path(kb_run, kb), kb_seconds)}
            if api:
                api_run, _ = api_searcher(CORPORA[corpus], folder / "kb", Path(tmp, corpus, "records.db"))
                engines["kb-api"] = (by_path(api_run, kb), 0.0)
            if not kb_only:
                for name, (run, seconds) in {
                    "fts5": fts5_searcher(articles),
                    "whoosh-default": whoosh_default_searcher(articles, Path(tmp, corpus, "whoosh")),
                    "jieba-bm25": fts5_searcher(articles, segment=True),
                }.items():
                    engines[name] = (by_path(run, kb), seconds)
            out(f"{corpus}: {len(articles)} articles, {len(items)} queries; build seconds: " +
                ", ".join(f"{name} {built:.1f}" for name, (_, built) in engines.items()))
            for judgment in items:
                set_name = f"{judgment.lang}-dev"
                for name, (run, _) in engines.items():
                    ranked = run(judgment.query)
                    values = {metric: score(ranked, judgment.relevant) for metric, score in METRICS.items()}
                    for half in (judgment.half, "both"):
                        for kind in (judgment.kind, "all"):
                            raw[name][(set_name, half, kind)].append(values)
                    if show_misses and name == "kb" and values["MRR@10"] < 1.0:
                        wanted = next(iter(judgment.relevant))
                        out(f"  {judgment.id} {judgment.kind} MRR {values['MRR@10']:.2f}: {judgment.query!r}\n"
                            f"      want {wanted}\n      got  {ranked[:3]}")
    scores: DevScores = {name: {key: {m: sum(v[m] for v in rows) / len(rows) for m in METRICS}
                                | {"queries": float(len(rows))} for key, rows in groups.items()}
                         for name, groups in raw.items()}
    _print_dev(scores, out)
    return scores


def _print_dev(scores: DevScores, out: Callable[[str], None]) -> None:
    engines = list(scores)
    keys = sorted({k for s in scores.values() for k in s},
                  key=lambda k: (k[0], ("tuning", "held-back", "both").index(k[1]),
                                 KINDS.index(k[2]) if k[2] in KINDS else len(KINDS)))
    for metric in METRICS:
        out("")
        out(f"{metric}: " + "  ".join(engines))
        out(f"{'set':7} {'half':9} {'kind':9} {'n':>3}  " + "  ".join(f"{e:>14}" for e in engines) +
            "  best baseline")
        for key in keys:
            row = [scores[e].get(key, {}).get(metric) for e in engines]
            baselines = [scores[e][key][metric] for e in engines if not e.startswith("kb") and key in scores[e]]
            count = int(next(scores[e][key]["queries"] for e in engines if key in scores[e]))
            out(f"{key[0]:7} {key[1]:9} {key[2]:9} {count:>3}  " +
                "  ".join(f"{'-' if v is None else f'{v:.3f}':>14}" for v in row) +
                (f"  {max(baselines):.3f}" if baselines else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("dev", "regression", "all"), default="all",
                        help="the shared dev sets, bench/relevance, or both (default)")
    parser.add_argument("--half", choices=(*HALVES, "both"), default="both", help="dev sets: which half")
    parser.add_argument("--only", help="comma-separated corpus names")
    parser.add_argument("--kb-only", action="store_true", help="dev sets: skip the baselines (quicker tuning)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild kb's cached dev-set indexes in full")
    parser.add_argument("--show-misses", action="store_true", help="print queries kb does not answer first")
    parser.add_argument("--api", action="store_true", help="also ask kb through GET /api/search")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    if args.set in ("dev", "all"):
        halves = HALVES if args.half == "both" else (args.half,)
        evaluate_dev(halves, only, args.kb_only, args.show_misses, args.rebuild, args.api)
    if args.set in ("regression", "all"):
        evaluate(only, args.show_misses, api=args.api)
    return 0


if __name__ == "__main__":
    sys.exit(main())
