"""Semantic retrieval: passage vectors built with the index, blended with word matching."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kb.config import Settings
from kbcli.build_search import build as build_command
from kbcli.build_search import search as search_command
from search.build import build_index, current_build
from search.results import SearchRequest
from search.semantic import ENCODER, PASSAGES, VECTORS
from search.service import SearchService
from tests.test_search_fixtures import MakeArticle

pytest_plugins = ("tests.test_search_fixtures",)


@pytest.fixture
def semantic(settings: Settings) -> Settings:
    return dataclasses.replace(settings, semantic=True)


def _articles(make_article: MakeArticle) -> None:
    make_article("outlook-password", "Outlook keeps asking for a password",
                 "## Cause\n\nThe saved credentials are stale.\n\n## Resolution\n\n"
                 "Remove the entries in Credential Manager and sign in again.")
    make_article("printer-offline", "Printer shows offline",
                 "## Resolution\n\nRestart the print spooler service and reconnect the printer.")
    make_article("wifi-drops", "Wi-Fi drops every few minutes",
                 "## Resolution\n\nUpdate the wireless adapter driver and turn off power saving for it.")
    make_article("disk-full", "磁盘空间不足", "## 解决方法\n\n清理临时文件，删除旧的日志。", lang="zh")


def service_for(settings: Settings) -> SearchService:
    return SearchService(settings.index_dir, semantic=settings.semantic, wait_for_encoder=True)


def test_build_writes_memory_mappable_vectors_of_every_section(make_article: MakeArticle,
                                                                semantic: Settings) -> None:
    _articles(make_article)
    build_index(semantic)
    live = current_build(semantic.index_dir)
    assert live is not None
    passages = json.loads((live / PASSAGES).read_text(encoding="utf-8"))["passages"]
    vectors = np.load(live / VECTORS, mmap_mode="r")
    assert len(passages) == len(vectors) and vectors.shape[1] == 512
    outlook = [row[1:3] for row in passages if row[0] == "outlook-password"]
    assert outlook == [["", ""], ["Cause", "cause"], ["Resolution", "resolution"]]  # the lead, then each section
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_a_symptom_in_other_words_finds_the_article(make_article: MakeArticle, semantic: Settings) -> None:
    _articles(make_article)
    build_index(semantic)
    service = service_for(semantic)
    hits = service.search(SearchRequest("my mail program won't stop prompting me to log in")).hits
    assert hits and hits[0].id == "outlook-password"
    assert hits[0].section is not None and hits[0].section.anchor in ("cause", "resolution")
    lexical = SearchService(semantic.index_dir, semantic=False)
    assert "outlook-password" not in [h.id for h in lexical.search(
        SearchRequest("my mail program won't stop prompting me to log in")).hits[:1]]


def test_a_chinese_query_finds_the_english_article_and_the_reverse(make_article: MakeArticle,
                                                                  semantic: Settings) -> None:
    _articles(make_article)
    build_index(semantic)
    service = service_for(semantic)
    assert service.search(SearchRequest("无线网络总是断开")).hits[0].id == "wifi-drops"
    assert service.search(SearchRequest("hard drive has no free space left")).hits[0].id == "disk-full"


def test_an_unchanged_passage_is_never_encoded_again(make_article: MakeArticle, semantic: Settings,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    _articles(make_article)
    build_index(semantic)
    make_article("wifi-drops", "Wi-Fi drops every few minutes",
                 "## Resolution\n\nUpdate the wireless adapter driver. Also move closer to the access point.")
    with caplog.at_level(logging.INFO, logger="search.semantic"):
        build_index(semantic)
    assert "encoding 1 passages" in caplog.text  # only the changed section; the lead did not change
    with caplog.at_level(logging.INFO, logger="search.semantic"):
        caplog.clear()
        build_index(semantic, full=True)
    assert "encoding" not in caplog.text  # a full rebuild reuses the live build's vectors


def test_kb_semantic_off_builds_no_vectors_and_searches_by_words(make_article: MakeArticle,
                                                                 settings: Settings) -> None:
    _articles(make_article)
    assert not settings.semantic
    build_index(settings)
    live = current_build(settings.index_dir)
    assert live is not None and not (live / VECTORS).exists() and not (live / PASSAGES).exists()
    hits = SearchService(settings.index_dir, wait_for_encoder=True).search(SearchRequest("print spooler")).hits
    assert [h.id for h in hits] == ["printer-offline"]


def test_turning_semantic_on_adds_vectors_to_an_unchanged_build(make_article: MakeArticle, settings: Settings,
                                                               semantic: Settings) -> None:
    _articles(make_article)
    build_index(settings)
    build_index(semantic)
    live = current_build(semantic.index_dir)
    assert live is not None and (live / VECTORS).exists()
    build_index(settings)  # and off again removes them
    live = current_build(settings.index_dir)
    assert live is not None and not (live / VECTORS).exists()


def test_kb_build_reports_encoding_and_kb_search_uses_it(make_article: MakeArticle, articles_dir: Path,
                                                        tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _articles(make_article)
    monkeypatch.setenv("KB_SEMANTIC", "1")
    index = tmp_path / "cli-index"
    with caplog.at_level(logging.INFO):
        result = CliRunner().invoke(build_command, ["--articles", str(articles_dir), "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert re.search(r"encoded (\d+)/\1 passages", caplog.text)
    out = CliRunner().invoke(search_command, ["--index", str(index), "--batch"],
                             input="my mail program won't stop prompting me to log in\n")
    assert json.loads(out.output)["hits"][0]["id"] == "outlook-password"
    monkeypatch.setenv("KB_SEMANTIC", "0")  # off at query time: word matching only, never an error
    out = CliRunner().invoke(search_command, ["--index", str(index), "--json", "print spooler"])
    assert json.loads(out.output)["hits"][0]["id"] == "printer-offline"


def test_a_search_never_fails_on_a_build_with_broken_vectors(make_article: MakeArticle, semantic: Settings) -> None:
    _articles(make_article)
    build_index(semantic)
    live = current_build(semantic.index_dir)
    assert live is not None
    (live / VECTORS).write_bytes(b"not a numpy file")
    hits = service_for(semantic).search(SearchRequest("print spooler")).hits
    assert [h.id for h in hits][:1] == ["printer-offline"]


def test_the_site_answers_at_once_and_gains_semantic_results_when_the_encoder_is_ready(
        make_article: MakeArticle, semantic: Settings, tmp_path: Path) -> None:
    from web.app import create_app

    _articles(make_article)
    build_index(semantic)
    site = dataclasses.replace(semantic, database_url=f"sqlite:///{tmp_path / 'records.db'}",
                               secret_key="semantic-test-secret-key")
    client = create_app({"KB_SETTINGS": site, "TESTING": True}).test_client()
    query = {"q": "my mail program won't stop prompting me to log in"}
    first = client.get("/api/search", query_string=query)
    assert first.status_code == 200  # lexical while the encoder loads, or semantic if it already has
    deadline = time.monotonic() + 120
    while not ENCODER.ready and time.monotonic() < deadline:
        time.sleep(0.1)
    data = client.get("/api/search", query_string=query).get_json()
    assert data["hits"][0]["id"] == "outlook-password"
    page = client.get("/search", query_string=query).get_data(as_text=True)
    assert 'href="/articles/outlook-password#' in page  # the best section, linked


def test_a_pasted_message_still_finds_the_article_holding_it_first(make_article: MakeArticle,
                                                                   semantic: Settings) -> None:
    message = "the operation could not be completed because the mailbox database is not mounted"
    make_article("common-words", "Mailbox database operation completed",
                 "## Cause\n\nThe mailbox database operation was not completed because it is not mounted yet.")
    make_article("verbatim", "Store errors", f"## Symptoms\n\nOutlook shows: {message.capitalize()}.")
    _articles(make_article)
    build_index(semantic)
    assert service_for(semantic).search(SearchRequest(f"error: {message}")).hits[0].id == "verbatim"
