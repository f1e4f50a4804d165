"""Relevance evaluation: MRR@10 and nDCG@10 for kb search, SQLite FTS5 (bm25) and default Whoosh.

    python -m bench.evaluate [--only bundled,pingcap-docs-cn-zh] [--show-misses] [--api]

Reads bench/relevance/*.jsonl (one judged query per line: corpus, lang, query,
relevant {id: grade}), builds the three indexes of each corpus in a temporary
folder, runs every query against each, and prints the scores per corpus and per
language. With --api, kb is also asked through the site's JSON API (GET /api/search,
Flask's test client over the same index): its scores must equal kb's. Not part of
the test suite.
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
K = 10

Searcher = Callable[[str], list[str]]


@dataclass(frozen=True)
class Judgment:
    corpus: str
    lang: str
    query: str
    relevant: dict[str, int]


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


def load_corpus(name: str) -> KnowledgeBase:
    """Bundled articles strictly, shared corpora leniently (ids from paths)."""
    lenient = name != "bundled"
    return load_knowledge_base(CORPORA[name], LoadOptions(lenient=lenient, render=False, git_history=False))


# -- the three engines -----------------------------------------------------------------

def kb_searcher(kb: KnowledgeBase, folder: Path) -> tuple[Searcher, float]:
    started = time.perf_counter()
    index_knowledge_base(kb, folder, full=True)
    seconds = time.perf_counter() - started
    service = SearchService(folder)

    def run(query: str) -> list[str]:
        try:
            result = service.search(SearchRequest(query, limit=K, highlight=False, facets=False))
        except QueryError:
            return []
        return [h.id for h in result.hits]

    return run, seconds


def api_searcher(articles_dir: Path, index_dir: Path, database: Path) -> tuple[Searcher, float]:
    """kb through GET /api/search, as a ticketing system or a held-out check would ask it."""
    from web.app import create_app

    app = create_app({"ARTICLES_DIR": articles_dir, "INDEX_DIR": index_dir, "SECRET_KEY": "evaluate-secret-0123456789",
                      "DATABASE_URL": f"sqlite:///{database}", "WARM_TERMS": 0})
    client = app.test_client()

    def run(query: str) -> list[str]:
        response = client.get("/api/search", query_string={"q": query, "limit": K})
        if response.status_code != 200:
            return []
        return [hit["id"] for hit in response.get_json()["hits"]]

    return run, 0.0


_FTS_TOKEN = re.compile(r"\w+")


def fts5_searcher(articles: Iterable[Article]) -> tuple[Searcher, float]:
    """SQLite FTS5 with its default tokenizer (unicode61) and bm25; query words OR-ed."""
    started = time.perf_counter()
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body)")
    db.executemany("INSERT INTO docs VALUES (?, ?, ?)",
                   [(a.id, a.title, f"{a.summary}\n{' '.join(a.errors)}\n{plain_text(a.body)}") for a in articles])
    db.commit()
    seconds = time.perf_counter() - started

    def run(query: str) -> list[str]:
        words = _FTS_TOKEN.findall(query)
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = db.execute("SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?", (match, K))
        return [r[0] for r in rows]

    return run, seconds


def whoosh_default_searcher(articles: Iterable[Article], folder: Path) -> tuple[Searcher, float]:
    """Whoosh as the tutorial sets it up: StandardAnalyzer, QueryParser over title and body."""
    from whoosh import index
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.qparser import MultifieldParser

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
    parser = MultifieldParser(["title", "body"], schema)

    def run(query: str) -> list[str]:
        try:
            return [hit["id"] for hit in searcher.search(parser.parse(query), limit=K)]
        except Exception:  # default Whoosh fails on odd syntax; count it as no answer
            return []

    return run, seconds


# -- evaluation ------------------------------------------------------------------------

def evaluate(only: set[str] | None = None, show_misses: bool = False, out: Callable[[str], None] = print,
             api: bool = False) -> dict[
        str, dict[str, tuple[float, float, int]]]:
    """Print and return {engine: {group: (MRR@10, nDCG@10, queries)}}."""
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
                "kb": kb_searcher(kb, Path(tmp, corpus, "kb")),
                "fts5": fts5_searcher(articles),
                "whoosh-default": whoosh_default_searcher(articles, Path(tmp, corpus, "whoosh")),
            }
            if api:
                engines["kb-api"] = api_searcher(CORPORA[corpus], Path(tmp, corpus, "kb"),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated corpus names")
    parser.add_argument("--show-misses", action="store_true", help="print queries kb does not answer first")
    parser.add_argument("--api", action="store_true", help="also ask kb through GET /api/search")
    args = parser.parse_args(argv)
    evaluate(set(args.only.split(",")) if args.only else None, args.show_misses, api=args.api)
    return 0


if __name__ == "__main__":
    sys.exit(main())
