"""Text analysis: Chinese and English in one field, error codes whole and by parts."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest

from search.analysis import KbTokenizer, Segmenter, fold, index_terms
from search.results import SearchRequest
from search.service import SearchService
from tests.test_search_fixtures import MakeArticle

pytest_plugins = ("tests.test_search_fixtures",)

tokenizer = KbTokenizer(["虚拟专用网 20 n"])


def positions(text: str) -> list[tuple[str, int, int, int]]:
    return [(t.text, t.pos, t.startchar, t.endchar) for t in tokenizer(text, positions=True, chars=True)]


def test_full_width_letters_fold_to_ascii_with_offsets_into_the_original() -> None:
    assert positions("ＶＰＮ连接") == [("vpn", 0, 0, 3), ("连接", 1, 3, 5)]


def test_nfkc_folding_keeps_offsets_when_lengths_change() -> None:
    text, offsets = fold("ﬁle")
    assert text == "file" and offsets is not None
    assert positions("the ﬁle")[1] == ("file", 1, 4, 7)


def test_chinese_run_into_english_splits_at_the_boundary() -> None:
    assert [t for t, *_ in positions("lightning导入慢")] == ["lightn", "导入", "慢"]


def test_chinese_words_get_sequential_positions_not_character_offsets() -> None:
    result = positions("打印机无法连接")
    assert [(t, p) for t, p, _, _ in result if len(t) != 2 or p > 0] == [("打印机", 0), ("无法", 1), ("连接", 2)]
    assert ("打印", 0, 0, 3) in result  # a sub-word, stacked on its word


def test_user_dictionary_words_stay_whole_with_their_subwords_stacked() -> None:
    result = positions("连接虚拟专用网失败")
    words_at_1 = {t for t, p, _, _ in result if p == 1}
    assert "虚拟专用网" in words_at_1 and {"虚拟", "专用网"} <= words_at_1
    assert ("失败", 2, 7, 9) in result


def test_english_is_lowercased_and_stemmed() -> None:
    assert index_terms(tokenizer, "Connecting Printers") == ["connect", "printer"]


@pytest.mark.parametrize(("text", "whole", "parts"), [
    ("0x80070005", "0x80070005", []),
    ("ORA-12541", "ora-12541", ["ora", "12541"]),
    ("KB5034441", "kb5034441", ["kb", "5034441"]),
    ("E_ACCESSDENIED", "e_accessdenied", ["e", "accessdeni"]),
    ("tikv_gc_life_time", "tikv_gc_life_time", ["tikv", "gc", "life", "time"]),
    ("Set-Mailbox", "set-mailbox", ["set", "mailbox"]),
    ("C:\\Windows\\System32", "c:\\windows\\system32", ["c", "window", "system32"]),
    ("5.7.1", "5.7.1", ["5", "7", "1"]),
    ("#VALUE!", "#value!", ["valu"]),
    ("HY000", "hy000", ["hy", "000"]),
])
def test_identifiers_are_indexed_whole_and_by_parts(text: str, whole: str, parts: list[str]) -> None:
    result = positions(text)
    assert result[0][:2] == (whole, 0)
    assert [(t, p) for t, p, _, _ in result[1:]] == [(part, i) for i, part in enumerate(parts)]


def test_multi_word_codes_keep_their_order() -> None:
    assert [(t, p) for t, p, _, _ in positions("ERROR 1105 (HY000)")] == [
        ("error", 0), ("1105", 1), ("hy000", 2), ("hy", 2), ("000", 3)]
    assert [t for t, *_ in positions("HTTP 502")] == ["http", "502"]


def test_tokenizer_survives_pickling_with_its_user_dictionary() -> None:
    copy = pickle.loads(pickle.dumps(tokenizer))
    assert copy == tokenizer
    assert "虚拟专用网" in index_terms(copy, "虚拟专用网")


def test_huge_tokens_are_dropped() -> None:
    assert index_terms(tokenizer, "a" * 5000 + " ok") == ["ok"]


def test_segmenter_without_user_dictionary_splits_the_word() -> None:
    assert [p.term for p in Segmenter().pieces("虚拟专用网", subwords=False)] != ["虚拟专用网"]


CODES = {
    "code-hresult": ("Access denied 0x80070005", "Update fails with 0x80070005 when installing."),
    "code-oracle": ("Listener down", "The client shows ORA-12541: TNS:no listener."),
    "code-http": ("Gateway errors", "The proxy answers HTTP 502 Bad Gateway."),
    "code-kb": ("Update KB5034441 fails", "Windows update KB5034441 fails with 0x80070643."),
    "code-win32": ("E_ACCESSDENIED from COM", "Calls fail with E_ACCESSDENIED."),
    "code-tikv": ("GC lifetime", "Raise tikv_gc_life_time before a long export."),
    "code-powershell": ("Mailbox settings", "Run Set-Mailbox -Identity jdoe to change it."),
    "code-path": ("System folder", "Copy the DLL to C:\\Windows\\System32 and restart."),
    "code-smtp": ("Bounce", "The message bounced with 550 5.7.1 unable to relay."),
    "code-excel": ("Formula error", "The cell shows #VALUE! after the import."),
    "code-mysql": ("TiDB error", "The statement fails with ERROR 1105 (HY000): unknown."),
}


@pytest.fixture
def code_service(make_article: MakeArticle, build: Callable[..., SearchService]) -> SearchService:
    for article_id, (title, body) in CODES.items():
        make_article(article_id, title, body)
    make_article("zh-lightning", "lightning导入慢怎么办", "使用 lightning导入数据时速度很慢，检查磁盘。", lang="zh")
    make_article("zh-printer", "打印机无法连接", "打印机显示脱机，无法连接到打印服务器。", lang="zh")
    make_article("zh-vpn", "虚拟专用网连接失败", "连接虚拟专用网时提示错误。", lang="zh")
    return build()


def ids(service: SearchService, query: str) -> list[str]:
    return [h.id for h in service.search(SearchRequest(query, limit=50)).hits]


@pytest.mark.parametrize(("query", "expected"), [
    ("0x80070005", "code-hresult"),
    ("ORA-12541", "code-oracle"),
    ("ora 12541", "code-oracle"),
    ("12541", "code-oracle"),
    ("HTTP 502", "code-http"),
    ('"http 502"', "code-http"),
    ("KB5034441", "code-kb"),
    ("5034441", "code-kb"),
    ("E_ACCESSDENIED", "code-win32"),
    ("accessdenied", "code-win32"),
    ("tikv_gc_life_time", "code-tikv"),
    ("gc life time", "code-tikv"),
    ("Set-Mailbox", "code-powershell"),
    ("mailbox", "code-powershell"),
    ("C:\\Windows\\System32", "code-path"),
    ("System32", "code-path"),
    ("550 5.7.1", "code-smtp"),
    ('"5.7.1"', "code-smtp"),
    ("#VALUE!", "code-excel"),
    ("ERROR 1105 (HY000)", "code-mysql"),
    ("HY000", "code-mysql"),
    ("ＯＲＡ－１２５４１", "code-oracle"),
])
def test_error_codes_are_found_whole_and_by_parts(code_service: SearchService, query: str, expected: str) -> None:
    assert ids(code_service, query)[:1] == [expected]


def test_mixed_chinese_and_english_without_spaces(code_service: SearchService) -> None:
    assert ids(code_service, "lightning导入慢")[:1] == ["zh-lightning"]
    assert "zh-lightning" in ids(code_service, "lightning")


def test_chinese_phrase_query_matches(code_service: SearchService) -> None:
    assert ids(code_service, '"无法连接"') == ["zh-printer"]
    assert ids(code_service, '"连接无法"') == []


def test_chinese_query_finds_user_dictionary_word(code_service: SearchService) -> None:
    assert ids(code_service, "虚拟专用网")[:1] == ["zh-vpn"]
    assert "zh-vpn" in ids(code_service, "专用网")
