"""Completion speed at N synthetic articles: GET /api/complete's work, against baselines from the same run.

    python -m bench.bench_complete [--articles 10000] [--queries 300] [--whoosh]

Prints the time to build the completion data (a build stage) and its size, then per-query
latency (p50 / p95 / max) of `Completer.complete` for prefixes of 1 to 12 characters taken from
titles, error codes, ids and products, English and Chinese, beside two baselines measured in
the same run on the same prefixes: a linear scan over every text (what a hand-written loop
costs), and with --whoosh a Whoosh prefix query (`prefix*`) through SearchService, which needs
a full index build first. The target is 20 ms per completion at 10,000 articles.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.synth import generate
from kb.loader import LoadOptions, load_knowledge_base
from search.complete import (
    COMPLETE_FILE,
    Completer,
    build_completions,
    normalize,
    normalize_prefix,
    write_completions,
)


def _prefixes(completer: Completer, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        entry = completer.entry(rng.randrange(len(completer)))
        text = normalize(entry.text)[0]
        words = [i for i, c in enumerate(text) if c.isalnum() and (i == 0 or not text[i - 1].isalnum())]
        start = rng.choice(words) if words and rng.random() < 0.3 else 0
        out.append(text[start:start + rng.randint(1, 12)].strip() or text[:3])
    return out


def _timed(run: Callable[[str], object], queries: list[str]) -> list[float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        run(q)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _row(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{name:<34} p50 {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms   max {ordered[-1]:7.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--whoosh", action="store_true", help="also build a full index and time `prefix*` queries")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kb-bench-complete-") as tmp:
        root = Path(tmp) / "articles"
        generate(root, args.articles)
        kb = load_knowledge_base(root, LoadOptions(render=False, git_history=False))
        started = time.perf_counter()
        data = build_completions(kb.articles, kb.vocabulary)
        build_seconds = time.perf_counter() - started
        completer = Completer.from_data(data)
        build_dir = Path(tmp) / "build"
        build_dir.mkdir()
        write_completions(build_dir, kb.articles, kb.vocabulary)
        started = time.perf_counter()
        Completer.open(build_dir)
        print(f"{COMPLETE_FILE}: {(build_dir / COMPLETE_FILE).stat().st_size / 1e6:.1f} MB, opened by a worker in "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
        print(f"{len(kb.articles)} articles: {len(completer)} completable texts, {len(completer.keys)} keys, "
              f"{len(completer.ranked)} busy prefixes ranked; built in {build_seconds:.2f} s")
        queries = _prefixes(completer, args.queries, args.seed)
        entries = [completer.entry(n) for n in range(len(completer))]
        texts = [(normalize(e.text)[0], e) for e in entries]

        def linear(q: str) -> object:
            p = normalize_prefix(q)
            found = [e for text, e in texts if text.startswith(p) or f" {p}" in text]
            return sorted(found, key=lambda e: -e.weight)[:8]

        print("machine shared with other engineers' work: figures are noisy; compare within this run")
        print(_row("kb completion (Completer.complete)", _timed(completer.complete, queries)))
        several = [q for q in queries if " " in q]
        if several:
            print(_row(f"  of which several words ({len(several)})", _timed(completer.complete, several)))
        print(_row("baseline: linear scan of texts", _timed(linear, queries)))
        if args.whoosh:
            from kb.config import load_settings
            from search.build import build_index
            from search.results import SearchRequest
            from search.service import SearchService

            settings = load_settings(environ={}, articles_dir=root, index_dir=Path(tmp) / "index")
            build_index(settings)
            from search.query import MIN_PREFIX_CHARS

            service = SearchService(settings.index_dir)
            service.search(SearchRequest("warm*", limit=8))
            # `x*` needs MIN_PREFIX_CHARS before the star: compare on the prefixes it accepts.
            usable = [q for q in queries if len(q.split()[-1]) >= MIN_PREFIX_CHARS and q.split()[-1].isalnum()]
            print(f"on the {len(usable)} prefixes a Whoosh prefix query accepts:")
            print(_row("  kb completion", _timed(completer.complete, usable)))
            print(_row("  baseline: Whoosh prefix query q*", _timed(
                lambda q: service.search(SearchRequest(q.split()[-1] + "*", limit=8)), usable)))
        examples = ["globalpro", "0x8007", "outl", "打印", "syn"]
        for q in examples:
            print(f"  {q!r}: " + ", ".join(c.text[:40] for c in completer.complete(q, 3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
