"""HTTP benchmark of the site under gunicorn on loopback (printed figures, not a timed test).

    python -m bench.bench_http --articles 10000 [--workers 4] [--seconds 20] [--warmup 15] [--keep DIR]

Generates the synthetic knowledge base of bench/synth.py, builds its index, starts gunicorn,
and for 1, 8 and 32 concurrent clients sends an even mix of search-page requests (the query mix
of bench/bench_search.py: words, phrases, error codes, filters, prefix, typos, Chinese) and
article-page requests, reporting p50/p95/max latency and requests per second for each kind
and every error. Target: search p95 at most 3x the article page's p95, and no errors.

Measuring starts after a warm-up under load (--warmup seconds): every worker opens the
index on its first request and then reads the most frequent words' postings in a
background thread (KB_WARM_TERMS, search/warming.py; about 3 s of CPU per worker at 10k
articles). The warm-up's own figures are printed too: they are what the first seconds
after a start or a newly swapped build look like.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench_search import make_queries
from bench.synth import generate
from kb.config import load_settings
from search.build import build_index

REPO = Path(__file__).resolve().parent.parent

def served_ids(articles: Path) -> list[str]:
    """Ids of the generated articles the site serves (drafts answer 404)."""
    ids = []
    for file in sorted(articles.rglob("synth-*.md")):
        head = file.read_text(encoding="utf-8")[:400]
        if "\nstate: draft\n" not in head:
            ids.append(file.stem)
    return ids


def search_paths(articles: Path, count: int) -> list[str]:
    """The search benchmark's query mix (words, phrases, error codes, filters, prefix, typos, Chinese) as URLs."""
    paths = []
    for query in make_queries(articles, lenient=False, count=count):
        params = [("q", query.text)] + [(name, value) for name, values in query.filters.items() for value in values]
        paths.append("/search?" + urllib.parse.urlencode(params))
    return paths


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_load(port: int, clients: int, seconds: float, article_ids: list[str], searches: list[str]
             ) -> dict[str, Samples]:
    """`clients` threads, each with a keep-alive connection, alternating search and article requests."""
    results = {"search": Samples(), "article": Samples()}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(number: int) -> None:
        rng = random.Random(number)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        kind = "search" if number % 2 else "article"
        while time.monotonic() < stop:
            path = rng.choice(searches) if kind == "search" else "/articles/" + rng.choice(article_ids)
            started = time.perf_counter()
            error = None
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    error = f"{response.status} {path}"
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__} {path}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - started
            with lock:
                (results[kind].errors.append(error) if error else results[kind].latencies.append(elapsed))
            kind = "article" if kind == "search" else "search"
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def print_figures(label: str, results: dict[str, Samples], seconds: float) -> dict[str, float]:
    """One line per request kind; returns the p95 of each in ms."""
    p95 = {}
    for kind, samples in results.items():
        lat = samples.latencies
        p95[kind] = _percentile(lat, 0.95) * 1000
        print(f"{label:>7} {kind:>8} {len(lat):>8} {len(lat) / seconds:>7.1f} "
              f"{statistics.median(lat) * 1000 if lat else float('nan'):>8.1f} {p95[kind]:>8.1f} "
              f"{max(lat, default=float('nan')) * 1000:>8.1f} {len(samples.errors):>6}")
        for error in samples.errors[:5]:
            print(f"        error: {error}")
    return p95


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> int:
    """Generate, build, serve under gunicorn, load, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000, help="synthetic articles to generate")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration per concurrency level")
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of load before measuring")
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep the corpus and index in this folder")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="kb-bench-http-"))
    articles, index = work / "articles", work / "index"
    if not (articles / "_kb").is_dir():
        started = time.perf_counter()
        generate(articles, args.articles)  # the corpus bench/bench_search.py measures
        print(f"generated {args.articles} articles in {time.perf_counter() - started:.1f}s")
    settings = load_settings(environ={}, articles_dir=articles, index_dir=index)
    started = time.perf_counter()
    report = build_index(settings)
    print(f"index: {report.mode} build of {report.articles} articles in {time.perf_counter() - started:.1f}s")
    ids = served_ids(articles)
    searches = search_paths(articles, 300)

    port = free_port()
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    env = {**os.environ, "KB_ARTICLES_DIR": str(articles), "KB_INDEX_DIR": str(index),
           "KB_SECRET_KEY": "bench-secret-16ch"}
    server = subprocess.Popen([gunicorn, "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
                               "--chdir", str(REPO), "--log-level", "warning", "web.app:create_app()"], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print("gunicorn did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        print(f"gunicorn --workers {args.workers}; {os.cpu_count()} CPUs; load generator in this process")
        print(f"{'clients':>7} {'kind':>8} {'requests':>8} {'rps':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
              f"{'errors':>6}")
        # Warm every worker (opening the index, warming its postings, reading article metadata).
        warmup = run_load(port, args.workers * 2, args.warmup, ids, searches)
        print_figures("warm-up", warmup, args.warmup)
        failed = False
        for clients in (int(c) for c in args.clients.split(",")):
            results = run_load(port, clients, args.seconds, ids, searches)
            p95 = print_figures(str(clients), results, args.seconds)
            failed |= any(samples.errors for samples in results.values())
            ratio = p95["search"] / p95["article"] if p95["article"] else float("inf")
            verdict = "ok" if ratio <= 3 else "OVER TARGET"
            failed |= ratio > 3
            print(f"{clients:>7} search p95 / article p95 = {ratio:.2f} (target <= 3: {verdict})")
        return 1 if failed else 0
    finally:
        server.terminate()
        server.wait(timeout=30)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
