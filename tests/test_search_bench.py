"""Smoke runs of the benchmark tools on tiny corpora (the figures themselves are not tested)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import bench_search, evaluate, realtext
from bench.synth import generate
from kb.loader import LoadOptions, load_knowledge_base


def test_metrics() -> None:
    assert evaluate.reciprocal_rank(["a", "b"], {"b": 2}) == 0.5
    assert evaluate.ndcg(["b", "a"], {"b": 2, "a": 1}) == pytest.approx(1.0)
    assert evaluate.ndcg(["x"], {"b": 2}) == 0.0


def test_relevance_set_is_well_formed() -> None:
    judgments = evaluate.load_judgments()
    assert len(judgments) >= 100
    assert {j.lang for j in judgments} == {"en", "zh"}
    assert all(j.corpus in evaluate.CORPORA and j.relevant for j in judgments)


def test_synthetic_corpus_loads_without_errors(tmp_path: Path) -> None:
    generate(tmp_path / "synth", 20)
    kb = load_knowledge_base(tmp_path / "synth", LoadOptions(git_history=False))
    assert len(kb.articles) == 20 and not kb.errors


def test_benchmark_runs_on_a_tiny_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_search.main(["--synth", "30", "--queries", "14", "--work", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "kb (Whoosh)" in out and "SQLite FTS5" in out


def test_real_text_corpus_is_valid_and_a_third_chinese(tmp_path: Path) -> None:
    realtext.generate(tmp_path / "real", 30, sources=[realtext.BUNDLED])
    kb = load_knowledge_base(tmp_path / "real", LoadOptions(git_history=False))
    assert len(kb.articles) == 30 and not kb.problems
    assert sum(a.lang == "zh" for a in kb.articles) == 10
    bodies = {a.body for a in kb.articles}
    assert len(bodies) == 30  # every article is its own draw of sentences
