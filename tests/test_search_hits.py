"""What each hit shows: its best section, a clean snippet, translations folded into one hit."""

from __future__ import annotations

from collections.abc import Callable

from search.results import SearchRequest
from search.service import SearchService
from tests.test_search_fixtures import MakeArticle

pytest_plugins = ("tests.test_search_fixtures",)

BODY = """## Symptoms

Outlook starts, then the window stays blank.

## Cause

A damaged navigation pane file.

## Resolution

Run `outlook.exe /resetnavpane` and start Outlook again.

| Version | Switch |
| --- | --- |
| 2016 | /resetnavpane |

> [!NOTE]
> Close every Outlook window first.
"""


def test_a_hit_names_its_best_matching_section(make_article: MakeArticle,
                                               build: Callable[..., SearchService]) -> None:
    make_article("blank-outlook", "Outlook window is blank", BODY)
    service = build()
    hit = service.search(SearchRequest("resetnavpane")).hits[0]
    assert hit.section is not None and (hit.section.heading, hit.section.anchor) == ("Resolution", "resolution")
    assert hit.to_json()["section"] == {"heading": "Resolution", "anchor": "resolution"}
    hit = service.search(SearchRequest("damaged navigation pane")).hits[0]
    assert hit.section is not None and hit.section.anchor == "cause"


def test_snippets_have_no_table_pipes_or_alert_markers(make_article: MakeArticle,
                                                       build: Callable[..., SearchService]) -> None:
    make_article("blank-outlook", "Outlook window is blank", BODY)
    snippet = build().search(SearchRequest("2016 switch close every window")).hits[0].snippet
    assert "<mark>" in snippet and "|" not in snippet and "[!NOTE]" not in snippet and "---" not in snippet


def test_no_half_chinese_word_is_highlighted(make_article: MakeArticle, build: Callable[..., SearchService]) -> None:
    make_article("net-zh", "网络连接失败", "检查网络设置。络", lang="zh")
    snippet = build().search(SearchRequest("络")).hits[0].snippet
    assert "网<mark>络</mark>" not in snippet


def test_translations_fold_into_one_hit_with_the_other_language_one_click_away(
        make_article: MakeArticle, build: Callable[..., SearchService]) -> None:
    english = make_article("scanner-jam", "Scanner jam DS-530", "Clear the scanner DS-530 rollers.")
    chinese = make_article("scanner-jam-zh", "扫描仪 DS-530 卡纸", "清理扫描仪 DS-530 的滚轮。", lang="zh")
    for path, partner in ((english, "scanner-jam-zh"), (chinese, "scanner-jam")):
        path.write_text(path.read_text(encoding="utf-8").replace("---\nid:", f"---\ntranslation_of: {partner}\nid:", 1),
                        encoding="utf-8")
    service = build()
    result = service.search(SearchRequest("DS-530 rollers"))
    assert [h.id for h in result.hits] == ["scanner-jam"] and result.total == 1
    assert [(t.id, t.lang) for t in result.hits[0].translations] == [("scanner-jam-zh", "zh")]
    assert result.to_json()["hits"][0]["translations"][0]["id"] == "scanner-jam-zh"
    both = service.search(SearchRequest("DS-530"))
    assert len(both.hits) == 1 and both.hits[0].translations  # both matched: one hit
    found = service.search(SearchRequest("扫描仪 DS-530"))
    assert found.hits[0].id == "scanner-jam-zh"  # the query's language first
    assert [t.id for t in found.hits[0].translations] == ["scanner-jam"]
