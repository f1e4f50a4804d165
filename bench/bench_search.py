"""Search benchmark: kb (Whoosh) beside SQLite FTS5 on the same corpora and queries.

    python -m bench.bench_search [--real 1000,10000,50000] [--synth 1000] [--shared] [--queries 300] [--work var/bench]

Corpora: `--real` sizes of the real-text corpus of bench/realtext.py (default 1000), `--synth`
sizes of bench/synth.py's few-hundred-word corpus (default none), `--shared` the shared corpora
as they are. For each corpus: full build time (the whole `python build.py` command), incremental
build time after changing one article, index size, peak memory of the build and of
the query process, and query latency p50/p95/max over a fixed mix (words, phrases,
error codes, filters, prefix, misspelt words, Chinese) with highlighting and facets,
as the site runs them. Prints figures; not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import realtext, synth
from kb.config import Settings
from kb.loader import LoadOptions, load_knowledge_base
from search.build import current_build
from search.errors import QueryError
from search.results import SearchRequest
from search.schema import plain_text
from search.service import SearchService

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "corpora"
_CJK_WORD = re.compile(r"[\u4e00-\u9fff]{2,4}")
_EN_WORD = re.compile(r"[A-Za-z]{4,12}")
_CODE = re.compile(r"\b(?:0x[0-9A-Fa-f]{8}|[A-Z][A-Za-z0-9]*[-_][A-Za-z0-9_-]+|\d{3} \d\.\d\.\d+)\b")


@dataclass
class Query:
    kind: str
    text: str
    filters: dict[str, list[str]]


@dataclass
class Figures:
    engine: str
    build_s: float
    incremental_s: float | None
    size_mb: float
    build_rss_mb: float
    query_rss_mb: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    slowest: str


def run_measured(args: list[str]) -> tuple[float, float, str]:
    """Run a command; (wall seconds, peak RSS MB of that child, stderr tail)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, err.strip().splitlines()[-1] if err.strip() else ""


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def make_queries(articles_dir: Path, lenient: bool, count: int, seed: int = 7) -> list[Query]:
    """A fixed mix of query kinds drawn from the corpus itself."""
    kb = load_knowledge_base(articles_dir, LoadOptions(lenient=lenient, render=False, git_history=False))
    rng = random.Random(seed)
    articles = [a for a in kb.articles if a.state not in ("draft", "archived")]
    queries: list[Query] = []
    kinds = ["words", "phrase", "error", "filter", "prefix", "typo", "chinese"]
    attempts = 0
    while len(queries) < count and attempts < count * 20:
        attempts += 1
        kind = kinds[attempts % len(kinds)]
        article = rng.choice(articles)
        text = f"{article.title}\n{plain_text(article.body)[:3000]}"
        en = _EN_WORD.findall(text)
        zh = _CJK_WORD.findall(text)
        if kind == "words" and len(en) >= 2:
            queries.append(Query(kind, " ".join(rng.sample(en, 2)).lower(), {}))
        elif kind == "phrase" and len(en) >= 8:
            start = rng.randrange(len(en) - 2)
            queries.append(Query(kind, f'"{en[start]} {en[start + 1]}"', {}))
        elif kind == "error" and (article.errors or _CODE.search(text)):
            codes = list(article.errors) or _CODE.findall(text)
            queries.append(Query(kind, rng.choice(codes)[:60], {}))
        elif kind == "filter" and en and article.categories:
            queries.append(Query(kind, rng.choice(en).lower(), {"category": [article.categories[0].split("/")[0]]}))
        elif kind == "prefix" and en:
            word = rng.choice([w for w in en if len(w) >= 5] or en)
            queries.append(Query(kind, word[:4].lower() + "*", {}))
        elif kind == "typo" and en:
            word = rng.choice([w for w in en if len(w) >= 6] or en).lower()
            i = rng.randrange(1, len(word) - 1)
            queries.append(Query(kind, word[:i] + word[i + 1] + word[i] + word[i + 2:], {}))
        elif kind == "chinese" and zh:
            queries.append(Query(kind, " ".join(rng.sample(zh, min(2, len(zh)))), {}))
    return queries


def latencies(run: Callable[[Query], None], queries: list[Query]) -> tuple[list[float], str]:
    for query in queries[:10]:  # warm up: open the index, fill caches
        run(query)
    times = []
    slowest = (0.0, "")
    for query in queries:
        started = time.perf_counter()
        run(query)
        elapsed = (time.perf_counter() - started) * 1000
        times.append(elapsed)
        slowest = max(slowest, (elapsed, f"{query.kind}: {query.text[:40]}"))
    return times, slowest[1]


def bench_kb(articles_dir: Path, index_dir: Path, lenient: bool, queries: list[Query],
             change: Path | None) -> Figures:
    common = [sys.executable, "build.py", "--articles", str(articles_dir), "--index", str(index_dir)]
    if lenient:
        common.append("--lenient")
    build_s, build_rss, _ = run_measured([*common, "--full"])
    incremental_s = None
    if change is not None:
        original = change.read_text(encoding="utf-8")
        change.write_text(original + "\nOne more sentence about the benchmark.\n", encoding="utf-8")
        try:
            incremental_s, rss2, _ = run_measured(common)
            build_rss = max(build_rss, rss2)
        finally:
            change.write_text(original, encoding="utf-8")
    build_dir = current_build(index_dir)
    assert build_dir is not None
    # As the site runs it (KB_WARM_TERMS): warmed before the first query is timed, as a server
    # preloaded and warmed before it accepts requests (deploy/gunicorn.conf.py); semantic from the
    # first query (KB_SEMANTIC).
    service = SearchService(index_dir, warm_terms=Settings().warm_terms, wait_for_encoder=True)
    service.open_warmed()

    def run(query: Query) -> None:
        with contextlib.suppress(QueryError):
            service.search(SearchRequest(query.text, filters=query.filters, limit=10))

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times, slowest = latencies(run, queries)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    service.handle.close()
    return Figures("kb (Whoosh)", build_s, incremental_s, folder_mb(build_dir), build_rss, max(rss, before),
                   *_percentiles(times), slowest)


def _fts_query(query: Query) -> str:
    if query.kind == "prefix":
        return query.text
    if query.kind == "phrase":
        return query.text
    words = re.findall(r"\w+", query.text)
    return " ".join('"' + w + '"' for w in words) or '""'


def bench_fts5(articles_dir: Path, db_path: Path, lenient: bool, queries: list[Query]) -> Figures:
    """FTS5 (unicode61, bm25) with snippets and a category facet count per query."""
    started = time.perf_counter()
    kb = load_knowledge_base(articles_dir, LoadOptions(lenient=lenient, render=False, git_history=False))
    db_path.unlink(missing_ok=True)
    db = sqlite3.connect(db_path)
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, category UNINDEXED)")
    db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)",
                   [(a.id, a.title, plain_text(a.body), ",".join(a.categories)) for a in kb.articles
                    if a.state != "draft"])
    db.commit()
    build_s = time.perf_counter() - started
    build_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def run(query: Query) -> None:
        match = _fts_query(query)
        where, params = "docs MATCH ?", [match]
        if query.filters.get("category"):
            where += " AND category LIKE ?"
            params.append(query.filters["category"][0] + "%")
        try:
            db.execute(f"SELECT id, title, snippet(docs, 2, '<mark>', '</mark>', '…', 24) FROM docs WHERE {where} "
                       "ORDER BY bm25(docs) LIMIT 10", params).fetchall()
            db.execute(f"SELECT category, count(*) FROM docs WHERE {where} GROUP BY category", params).fetchall()
        except sqlite3.OperationalError:
            pass

    times, slowest = latencies(run, queries)
    db.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Figures("SQLite FTS5", build_s, None, db_path.stat().st_size / 1e6, build_rss, rss, *_percentiles(times),
                   slowest)


def _percentiles(times: list[float]) -> tuple[float, float, float]:
    ordered = sorted(times)
    return (statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], ordered[-1])


def print_figures(corpus: str, articles: int, figures: list[Figures], queries: list[Query]) -> None:
    kinds = sorted({q.kind for q in queries})
    print(f"\n## {corpus}: {articles} articles, {len(queries)} queries ({', '.join(kinds)})")
    print(f"{'engine':14} {'build s':>8} {'1 change s':>10} {'size MB':>8} {'build RSS MB':>12} "
          f"{'query RSS MB':>12} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}  slowest")
    for f in figures:
        inc = f"{f.incremental_s:.1f}" if f.incremental_s is not None else "-"
        print(f"{f.engine:14} {f.build_s:8.1f} {inc:>10} {f.size_mb:8.1f} {f.build_rss_mb:12.0f} "
              f"{f.query_rss_mb:12.0f} {f.p50_ms:7.1f} {f.p95_ms:7.1f} {f.max_ms:7.1f}  {f.slowest}")
    sys.stdout.flush()


def bench_corpus(name: str, articles_dir: Path, work: Path, lenient: bool, query_count: int) -> None:
    queries = make_queries(articles_dir, lenient, query_count)
    change = next(iter(sorted(p for p in articles_dir.rglob("*.md") if "_kb" not in p.parts)), None)
    count = sum(1 for p in articles_dir.rglob("*.md") if "_kb" not in p.parts)
    # Each engine in its own process, so peak memory figures do not mix.
    kb_figures = bench_kb(articles_dir, work / f"{name}-index", lenient, queries, change)
    fts = bench_fts5(articles_dir, work / f"{name}-fts5.db", lenient, queries)
    print_figures(name, count, [kb_figures, fts], queries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", default="1000", help="comma-separated real-text corpus sizes ('' for none)")
    parser.add_argument("--synth", default="", help="comma-separated synthetic corpus sizes ('' for none)")
    parser.add_argument("--shared", action="store_true", help="also the shared real corpora")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    for name, module, sizes in (("real", realtext, args.real), ("synth", synth, args.synth)):
        for size in [int(s) for s in sizes.split(",") if s.strip()]:
            folder = args.work / f"{name}-{size}"
            if not (folder / "_kb").is_dir() or sum(1 for _ in folder.rglob(f"{name}-*.md")) != size:
                module.generate(folder, size)
            bench_corpus(f"{name}-{size}", folder, args.work, False, args.queries)
    if args.shared:
        for corpus in sorted(p for p in SHARED.iterdir() if p.is_dir()):
            bench_corpus(corpus.name, corpus, args.work, True, args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
