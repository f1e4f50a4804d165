"""The load cache: unchanged files are not parsed or rendered again, and never go stale."""

from __future__ import annotations

import time
from pathlib import Path

from kb.cache import SHARD_FILE, SHARDS, shard_of
from kb.loader import KnowledgeBase, LoadOptions, load_knowledge_base
from tests.conftest import ArticleWriter

LINKING = """\
    ---
    id: linking
    title: Linking
    summary: s
    type: howto
    ---
    See [the fix](kb:vpn-error-809#resolution) and [later](kb:later).
    """


def load(root: Path, cache: Path) -> KnowledgeBase:
    return load_knowledge_base(root, LoadOptions(git_history=False, cache_dir=cache))


def test_second_load_reuses_everything_and_gives_the_same_result(
    articles_dir: Path, write_article: ArticleWriter, tmp_path: Path
) -> None:
    write_article("en/linking.md", LINKING)
    first = load(articles_dir, tmp_path / "cache")
    second = load(articles_dir, tmp_path / "cache")
    assert second.articles == first.articles
    assert second.rendered == first.rendered
    assert second.problems == first.problems
    assert any("broken link to 'kb:later'" in p.message for p in second.errors)


def test_changed_file_is_parsed_again(articles_dir: Path, write_article: ArticleWriter, tmp_path: Path) -> None:
    load(articles_dir, tmp_path / "cache")
    path = articles_dir / "en" / "vpn-error-809.md"
    path.write_text(path.read_text(encoding="utf-8").replace("VPN fails with error 809", "New title"),
                    encoding="utf-8")
    assert load(articles_dir, tmp_path / "cache").by_id()["vpn-error-809"].title == "New title"


def test_rendering_follows_links_to_articles_added_later(
    articles_dir: Path, write_article: ArticleWriter, tmp_path: Path
) -> None:
    write_article("en/linking.md", LINKING)
    before = load(articles_dir, tmp_path / "cache")
    assert any("broken link to 'kb:later'" in p.message for p in before.errors)
    write_article("en/later.md", "---\nid: later\ntitle: Later\nsummary: s\ntype: howto\n---\nBody.\n")
    after = load(articles_dir, tmp_path / "cache")
    assert 'href="/articles/later"' in after.rendered["linking"].html
    assert not any("kb:later" in p.message for p in after.problems)


def test_vocabulary_change_invalidates_parse_results(articles_dir: Path, tmp_path: Path) -> None:
    assert load(articles_dir, tmp_path / "cache").errors == []
    categories = articles_dir / "_kb" / "categories.yaml"
    categories.write_text(categories.read_text(encoding="utf-8").replace("network/vpn: {zh: VPN, en: VPN}\n", ""),
                          encoding="utf-8")
    assert any("unknown category 'network/vpn'" in p.message for p in load(articles_dir, tmp_path / "cache").errors)


def test_corrupt_cache_is_ignored(articles_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "articles.pickle").write_bytes(b"not a pickle")
    assert [a.id for a in load(articles_dir, cache).articles] == ["vpn-error-809"]


def test_full_load_ignores_but_refreshes_the_cache(articles_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load(articles_dir, cache)
    options = LoadOptions(git_history=False, cache_dir=cache, reuse_cache=False)
    path = articles_dir / "en" / "vpn-error-809.md"
    path.write_text(path.read_text(encoding="utf-8").replace("VPN fails", "VPN breaks"), encoding="utf-8")
    assert load_knowledge_base(articles_dir, options).by_id()["vpn-error-809"].title == "VPN breaks with error 809"
    assert all(f.stat().st_size > 0 for f in cache.glob("articles-*.pickle"))
    assert load(articles_dir, cache).by_id()["vpn-error-809"].title == "VPN breaks with error 809"


def test_one_changed_article_rewrites_only_its_cache_file(articles_dir: Path, write_article: ArticleWriter,
                                                          tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    write_article("en/linking.md", LINKING)
    first = load(articles_dir, cache)
    files = {f.name: f.stat().st_mtime_ns for f in cache.glob("articles-*.pickle")}
    assert len(files) == SHARDS
    path = articles_dir / "en" / "vpn-error-809.md"
    path.write_text(path.read_text(encoding="utf-8").replace("VPN fails", "VPN breaks"), encoding="utf-8")
    time.sleep(0.01)  # so a rewritten file's mtime differs
    assert load(articles_dir, cache).by_id()["vpn-error-809"].title == "VPN breaks with error 809"
    rewritten = [f.name for f in cache.glob("articles-*.pickle") if f.stat().st_mtime_ns != files[f.name]]
    assert rewritten == [SHARD_FILE.format(shard_of("en/vpn-error-809.md"))]
    again = load(articles_dir, cache)
    assert again.by_id()["vpn-error-809"].title == "VPN breaks with error 809"
    assert [a.id for a in again.articles] == [a.id for a in first.articles] and again.problems == first.problems
