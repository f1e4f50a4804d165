"""GET /api/complete: titles, error codes, ids and products that the typed prefix starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from kb.config import load_settings
from search.build import build_index, current_build
from search.complete import COMPLETE_FILE, Completer
from tests.conftest import BUNDLED_ARTICLES
from tests.test_web_fixtures import LONG_ERROR
from web.app import create_app

pytest_plugins = ("tests.test_web_fixtures",)


def complete(client: FlaskClient, q: str, **params: Any) -> dict[str, Any]:
    response = client.get("/api/complete", query_string={"q": q, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    return data


def marked(c: dict[str, Any]) -> str:
    """The completion's text with each typed part in brackets."""
    text, out, last = c["text"], "", 0
    for start, end in c["marks"]:
        out += text[last:start] + "[" + text[start:end] + "]"
        last = end
    return out + text[last:]


def test_a_partial_word_completes_to_titles_ids_and_products(client: FlaskClient) -> None:
    data = complete(client, "outl")
    found = [(c["kind"], marked(c)) for c in data["completions"]]
    assert found[0] == ("title", "[Outl]ook keeps asking for a password")
    assert ("product", "Microsoft [Outl]ook") in found  # once per product: its name holds its id
    assert ("id", "[outl]ook-password-prompt") in found
    assert data["completions"][0]["url"] == "/articles/outlook-password-prompt"
    assert data["search_url"] == "/search?q=outl"
    # The word being typed is matched as typed: never corrected to another word.
    assert all(len(c["marks"]) == 1 and c["text"][slice(*c["marks"][0])].lower() == "outl"
               for c in data["completions"])


def test_several_words_complete_texts_holding_each_of_them(client: FlaskClient) -> None:
    found = [marked(c) for c in complete(client, "outlook pass")["completions"]]
    assert found[0] == "[Outlook] keeps asking for a [pass]word"
    reversed_words = complete(client, "password outl")["completions"]
    assert marked(reversed_words[0]) == "[Outl]ook keeps asking for a [password]"


def test_an_error_code_prefix_completes_inside_a_long_identifier(client: FlaskClient) -> None:
    data = complete(client, "0x8007")
    errors = [c for c in data["completions"] if c["kind"] == "error"]
    assert errors and errors[0]["text"] == LONG_ERROR
    assert marked(errors[0]).endswith("[0x8007]04C9")
    assert errors[0]["url"].startswith("/search?q=")


def test_chinese_prefixes_complete_at_the_start_and_inside_titles(client: FlaskClient) -> None:
    assert [marked(c) for c in complete(client, "工单")["completions"]] == ["[工单]的生命周期"]
    inside = complete(client, "连接失")["completions"]
    assert [marked(c) for c in inside] == ["VPN [连接失]败，错误 809"]
    assert inside[0]["lang"] == "zh"


def test_best_first_and_each_text_once(client: FlaskClient) -> None:
    found = complete(client, "printer", limit=20)["completions"]
    titles = [c["text"] for c in found if c["kind"] == "title"]
    assert len(titles) == len(set(titles)) > 5
    # Validated articles rank above unverified ones with the same kind of match.
    states = {f"Printer {n} paper jam": n % 2 for n in range(1, 24)}
    first_unverified = next(i for i, t in enumerate(titles) if not states[t])
    assert all(states[t] for t in titles[:first_unverified]) and first_unverified > 0


def test_drafts_and_archived_articles_are_not_completed(client: FlaskClient) -> None:
    assert complete(client, "draft wi")["completions"] == []
    assert complete(client, "dial-up")["completions"] == []


def test_bad_input_gets_a_clear_answer(client: FlaskClient) -> None:
    assert complete(client, "")["completions"] == []
    assert complete(client, "   ")["completions"] == []
    assert complete(client, "zzqx")["completions"] == []
    assert complete(client, "outl", limit="many")["completions"]
    too_long = client.get("/api/complete", query_string={"q": "x" * 201})
    assert too_long.status_code == 400
    assert "at most 200 characters" in too_long.get_json()["message"]
    weird = complete(client, "\"(*[<script>")
    assert weird["completions"] == [] and weird["query"] == "\"(*[<script>"


def test_completion_is_in_the_openapi_document(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    assert "/api/complete" in document["paths"]
    assert "Completions" in document["components"]["schemas"]


def test_an_incremental_build_reuses_the_completions_unless_a_title_changed(articles_dir: Path, tmp_path: Path) -> None:
    settings = load_settings(environ={}, articles_dir=articles_dir, index_dir=tmp_path / "index")
    build_index(settings)
    first = current_build(settings.index_dir)
    assert first is not None
    article = articles_dir / "en" / "vpn-error-809.md"
    article.write_text(article.read_text(encoding="utf-8").replace("NAT drops", "Home NAT drops"), encoding="utf-8")
    build_index(settings)
    second = current_build(settings.index_dir)
    assert second is not None and second != first
    assert (second / COMPLETE_FILE).stat().st_ino == (first / COMPLETE_FILE).stat().st_ino
    article.write_text(article.read_text(encoding="utf-8").replace("VPN fails", "L2TP VPN fails"), encoding="utf-8")
    build_index(settings)
    third = current_build(settings.index_dir)
    assert third is not None
    assert (third / COMPLETE_FILE).stat().st_ino != (second / COMPLETE_FILE).stat().st_ino
    assert [c.text for c in Completer.open(third).complete("l2tp")] == ["L2TP VPN fails with error 809"]
    assert [c.text for c in Completer.open(second).complete("vpn fails")] == ["VPN fails with error 809"]


def test_the_prefixes_of_the_issue_complete_on_the_bundled_knowledge_base(tmp_path: Path) -> None:
    settings = load_settings(environ={}, articles_dir=BUNDLED_ARTICLES, index_dir=tmp_path / "index",
                             database_url=f"sqlite:///{tmp_path / 'records.db'}",
                             secret_key="media-test-secret-key-0123456789")
    build_index(settings)
    client = create_app({"KB_SETTINGS": settings, "TESTING": True}).test_client()
    globalpro = complete(client, "globalpro")["completions"]
    assert globalpro and all(marked(c).lower().count("[globalpro]") == 1 for c in globalpro)
    assert {"title", "error", "product"} <= {c["kind"] for c in globalpro}
    codes = [c["text"] for c in complete(client, "0x8007")["completions"] if c["kind"] == "error"]
    assert "0x80070005" in codes
    outl = complete(client, "outl")["completions"]
    assert outl[0]["kind"] == "title" and outl[0]["text"].startswith("Outlook")
    assert all("[outl]" in marked(c).lower() for c in outl)  # never corrected to "out"
    printing = complete(client, "打印")["completions"]
    assert printing and all("[打印]" in marked(c) for c in printing)
