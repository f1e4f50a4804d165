"""Words users used, in ranking: MRR@10 on the shared relevance sets before and after.

    python -m bench.bench_user_words [--only en-dev,zh-dev]

For each set (../shared/relevance/{en,zh}-dev.jsonl on its corpus): the queries are split by
position into a tuning half (even) and a held-back half (odd). Each tuning query is recorded,
through the records store, as the subject of a ticket its primary target resolved; then
`user_words.json` is written as `kb boosts` writes it, and every query is asked again. The
tuning half should rise; the held-back half must not drop. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.evaluate import REPO, load_corpus, reciprocal_rank
from kb.records.articles import ArticleIds
from kb.records.db import Database
from kb.records.ranking import user_words, write_boosts
from kb.records.store import RecordStore
from search.build import index_knowledge_base
from search.errors import QueryError
from search.results import SearchRequest
from search.service import SearchService
from search.user_words import USER_WORDS

SETS = {"en-dev": "ms-officedocs-support-en", "zh-dev": "pingcap-docs-cn-zh"}
RELEVANCE = REPO.parent / "shared" / "relevance"
K = 10


def mrr(service: SearchService, paths: dict[str, str], queries: list[dict[str, object]]) -> float:
    total = 0.0
    for q in queries:
        try:
            hits = service.search(SearchRequest(str(q["query"]), limit=K, highlight=False, facets=False)).hits
        except QueryError:
            hits = ()
        relevant = q["relevant"]
        assert isinstance(relevant, dict)
        total += reciprocal_rank([paths.get(h.id, h.id) for h in hits], relevant, K)
    return total / len(queries) if queries else 0.0


def run(name: str, corpus: str, tmp: Path) -> None:
    queries = [json.loads(line) for line in (RELEVANCE / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
               if line.strip()]
    tuning, held = queries[0::2], queries[1::2]
    kb = load_corpus(corpus)
    paths = {a.id: a.path for a in kb.articles}
    by_path = {p: i for i, p in paths.items()}
    index_dir = tmp / name / "index"
    started = time.perf_counter()
    index_knowledge_base(kb, index_dir, full=True)
    build = time.perf_counter() - started
    service = SearchService(index_dir)
    before = (mrr(service, paths, tuning), mrr(service, paths, held))
    db = Database(f"sqlite:///{tmp / name / 'records.db'}")
    ids = ArticleIds.from_articles(kb.articles)
    store = RecordStore(db, ids.resolve)
    recorded = 0
    for n, q in enumerate(tuning):
        relevant = q["relevant"]
        target = next((p for p, grade in relevant.items() if grade == 2), None)
        if target is None or target not in by_path:
            continue
        store.record_resolution(article=by_path[target], ticket_id=f"BENCH-{n}", category="bench",
                                subject=str(q["query"]), source="import")
        recorded += 1
    started = time.perf_counter()
    write_boosts(index_dir / USER_WORDS, user_words(db, ids.resolve))  # what `kb boosts` writes
    refresh = time.perf_counter() - started
    after = (mrr(service, paths, tuning), mrr(service, paths, held))
    db.dispose()
    print(f"{name} ({corpus}, {len(kb.articles)} articles; build {build:.0f}s, user words refresh {refresh:.2f}s, "
          f"{recorded} tuning queries recorded as ticket subjects)")
    print(f"  {'half':<12} {'queries':>7} {'MRR@10 before':>14} {'after':>8} {'change':>8}")
    for label, part, b, a in (("tuning", tuning, before[0], after[0]), ("held-back", held, before[1], after[1])):
        print(f"  {label:<12} {len(part):>7} {b:>14.3f} {a:>8.3f} {a - b:>+8.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated set names (en-dev, zh-dev)")
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(SETS)
    print("(the machine is shared with other engineers: times are noisy; MRR is not)")
    with tempfile.TemporaryDirectory(prefix="kb-user-words-") as tmp:
        for name in chosen:
            run(name, SETS[name], Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
