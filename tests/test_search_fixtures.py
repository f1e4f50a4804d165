"""Helpers for the search tests: tiny article folders and indexes built from them."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from kb.config import Settings, load_settings
from search.build import build_index
from search.service import SearchService

MakeArticle = Callable[..., Path]


def article_text(id: str, title: str, body: str, *, lang: str = "en", state: str = "validated",
                 type: str = "problem", categories: Sequence[str] = ("network",), tags: Sequence[str] = (),
                 products: Sequence[str] = (), errors: Sequence[str] = (), summary: str = "") -> str:
    """An article file's text (front-matter values JSON-quoted, which is valid YAML)."""
    lines = ["---", f"id: {id}", f"title: {json.dumps(title, ensure_ascii=False)}", f"type: {type}",
             f"state: {state}", f"lang: {lang}", f"categories: {json.dumps(list(categories))}"]
    if summary:
        lines.append(f"summary: {json.dumps(summary, ensure_ascii=False)}")
    if tags:
        lines.append(f"tags: {json.dumps(list(tags))}")
    if products:
        lines.append(f"products: {json.dumps(list(products))}")
    if errors:
        lines.append(f"errors: {json.dumps(list(errors), ensure_ascii=False)}")
    lines += ["---", "", body, ""]
    return "\n".join(lines)


@pytest.fixture
def make_article(articles_dir: Path) -> MakeArticle:
    """Write an article under articles_dir/<lang>/<id>.md."""

    def make(id: str, title: str, body: str = "Some text.", **fields: object) -> Path:
        lang = str(fields.get("lang", "en"))
        path = articles_dir / lang / f"{id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article_text(id, title, body, **fields), encoding="utf-8")  # type: ignore[arg-type]
        return path

    return make


@pytest.fixture
def settings(articles_dir: Path, tmp_path: Path) -> Settings:
    # Word matching only, so that ranking tests do not depend on the sentence encoder; the semantic
    # tests (tests/test_search_semantic.py) turn it on.
    return load_settings(environ={}, articles_dir=articles_dir, index_dir=tmp_path / "index", semantic=False)


@pytest.fixture
def build(settings: Settings) -> Callable[..., SearchService]:
    """Build the index of articles_dir and return a service on it."""

    def run(**options: bool) -> SearchService:
        build_index(settings, **options)
        return SearchService(settings.index_dir, semantic=settings.semantic, wait_for_encoder=True)

    return run
