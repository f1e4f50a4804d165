"""Full builds in worker processes (KB_BUILD_PROCESSES) index exactly what a one-process build does."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from bench.synth import sentence, write_vocabulary
from search.build import current_build
from search.results import SearchRequest
from search.service import SearchService
from tests.conftest import REPO

ARTICLES = 330  # enough for two worker processes (kb.workers.MIN_PER_PROCESS each)
QUERIES = ["printer driver", '"reset password"', "0x80070005", "vpn*", "打印机 驱动", "passwrod", "category:network"]


def _write_articles(root: Path, count: int) -> list[Path]:
    """Short valid articles (a few sentences each, half Chinese), so the test builds quickly."""
    rng = random.Random(3)
    write_vocabulary(root)
    paths = []
    for n in range(count):
        lang = "zh" if n % 2 else "en"
        text = (" " if lang == "en" else "").join(sentence(rng, lang, ["0x80070005", "ORA-12541"]) for _ in range(3))
        path = root / lang / f"a-{n:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\nid: a-{n:04d}\ntitle: \"{text[:40]}\"\ntype: reference\nstate: validated\n"
                        f"lang: {lang}\ncategories: [{rng.choice(['network', 'email', 'printing'])}]\n---\n"
                        f"{text}\n\nprinter driver reset password\n", encoding="utf-8")
        paths.append(path)
    return paths


def _build(articles: Path, index: Path, processes: int, *extra: str) -> str:
    env = {**os.environ, "KB_BUILD_PROCESSES": str(processes)}
    done = subprocess.run([sys.executable, "build.py", "--articles", str(articles), "--index", str(index), *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=True)
    return done.stderr


def _results(service: SearchService) -> list[object]:
    out: list[object] = []
    for query in QUERIES:
        result = service.search(SearchRequest(query, limit=20))
        out.append((query, result.total, [(h.id, round(h.score, 9), h.snippet) for h in result.hits],
                    [(f.name, [(v.value, v.count) for v in f.values]) for f in result.facets]))
    return out


def test_parallel_full_build_matches_a_serial_one(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    paths = _write_articles(articles, ARTICLES)
    _build(articles, tmp_path / "serial", 1, "--full")
    log = _build(articles, tmp_path / "parallel", 2, "--full")
    assert "full build: " in log
    serial, parallel = SearchService(tmp_path / "serial"), SearchService(tmp_path / "parallel")
    parallel_build = current_build(tmp_path / "parallel")
    assert parallel_build is not None and len(list(parallel_build.glob("*.seg"))) == 2  # one segment per worker
    assert parallel.handle.snapshot().doc_ids == serial.handle.snapshot().doc_ids  # same document numbers
    assert _results(parallel) == _results(serial)
    assert not list(parallel_build.glob("*.tmp"))  # the workers' scratch folder is gone

    # An incremental build on top of the parallel one sees the change.
    changed = paths[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nZanzibarquux appears here.\n", encoding="utf-8")
    assert "incremental build: " in _build(articles, tmp_path / "parallel", 2)
    assert parallel.search(SearchRequest("zanzibarquux")).total == 1
