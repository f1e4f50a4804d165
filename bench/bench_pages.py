"""Where a search page's time goes, in one process (printed figures, not a timed test).

    python -m bench.bench_pages --articles DIR --index DIR [--queries 300] [--warm-terms 2000]

Serves the site through Flask's test client (no HTTP, no other processes), sends the
search benchmark's query mix (bench/bench_search.py) as search pages, each followed by
an article page, twice: the first round meets every query for the first time, the
second repeats them. Prints p50/p95 of the whole search page, of SearchService.search
inside it, of the page around it, and of the article page, then the process's peak
memory. With --warm-terms (KB_WARM_TERMS) the run waits for warming to finish first.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from bench.bench_http import search_paths, served_ids


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, required=True, help="articles folder (e.g. from bench.synth)")
    parser.add_argument("--index", type=Path, required=True, help="its built index")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--warm-terms", type=int, default=2000, help="KB_WARM_TERMS for this run")
    args = parser.parse_args(argv)
    os.environ.update(KB_ARTICLES_DIR=str(args.articles), KB_INDEX_DIR=str(args.index),
                      KB_SECRET_KEY="bench-secret-16ch", KB_WARM_TERMS=str(args.warm_terms))
    from web.app import create_app
    from web.catalog import get_catalog

    paths, ids = search_paths(args.articles, args.queries), served_ids(args.articles)
    app = create_app()
    client = app.test_client()
    client.get("/articles/" + ids[0])  # opens the index and reads the article metadata
    with app.app_context():
        service = get_catalog().service
    started = time.perf_counter()
    while args.warm_terms and service.last_warm is None and time.perf_counter() - started < 300:
        time.sleep(0.05)
    print(f"warming: {service.last_warm}")

    took: list[float] = []
    search_took = service.search

    def timed(request):  # type: ignore[no-untyped-def]
        result = search_took(request)
        took.append(result.took_ms)
        return result

    service.search = timed  # type: ignore[method-assign]
    print(f"{'round':>5} {'search p50/p95':>15} {'service p50/p95':>16} {'page p50/p95':>13} {'article p50/p95':>16}")
    for round_number in (1, 2):
        took.clear()
        pages: list[float] = []
        articles: list[float] = []
        for n, path in enumerate(paths):
            begun = time.perf_counter()
            if client.get(path).status_code != 200:
                print(f"failed: {path}", file=sys.stderr)
                return 1
            pages.append((time.perf_counter() - begun) * 1000)
            begun = time.perf_counter()
            client.get("/articles/" + ids[n * 7 % len(ids)])
            articles.append((time.perf_counter() - begun) * 1000)
        around = [page - inner for page, inner in zip(pages, took, strict=True)]
        print(f"{round_number:>5} " + " ".join(
            f"{_percentile(v, 0.5):>7.1f}/{_percentile(v, 0.95):<7.1f}" for v in (pages, took, around, articles)))
    print(f"peak memory (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
