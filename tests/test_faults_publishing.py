"""Fault injection, publishing: pushes that delete, break and link articles, through `kb sync` and the site.

A broken or deleted article affects only itself: everything else in the push goes live, a
reference to a deleted article is a warning on /status naming the commit that deleted it, its
links render as plain text and the onboarding path shows the remaining steps.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from kb.config import Settings
from kbcli.main import cli
from tests.test_sync_fixtures import Writer, git
from web import records
from web.app import create_app

pytest_plugins = ("tests.test_sync_fixtures",)

ONBOARDING = """\
basics:
  title: {en: Basics, zh: 基础}
  audience: {en: New staff, zh: 新员工}
  steps: [vpn-error-809, printer-jam, mail-setup]
"""


def article(id: str, title: str, body: str, *, related: tuple[str, ...] = (), extra: str = "") -> str:
    lines = ["---", f"id: {id}", f"title: {json.dumps(title)}", "type: howto", "state: validated", "lang: en",
             'categories: ["network"]', f"summary: {json.dumps(title + ' for tests.')}"]
    if related:
        lines.append(f"related: {json.dumps(list(related))}")
    if extra:
        lines.append(extra)
    return "\n".join([*lines, "---", "", body, ""])


def kb_sync(node: Settings, origin: Path) -> dict[str, Any]:
    """`kb sync --json` as the operator runs it; the JSON it prints."""
    result = CliRunner().invoke(cli, ["sync", "--articles", str(node.articles_dir), "--index", str(node.index_dir),
                                      "--json"], env={"KB_SYNC_REMOTE": str(origin), "KB_SYNC_BRANCH": "main"})
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def site(node: Settings, tmp_path: Path) -> Iterator[FlaskClient]:
    app: Flask = create_app({"KB_SETTINGS": dataclasses.replace(node, database_url=f"sqlite:///{tmp_path}/r.db"),
                             "TESTING": True})
    with app.test_client() as client:
        yield client
    app.extensions[records.EXTENSION_KEY].dispose()


@pytest.fixture
def published(writer: Writer, node: Settings, origin: Path) -> Writer:
    """Four good articles, an onboarding path of three and links between them, live on the node."""
    writer.write("_kb/onboarding.yaml", ONBOARDING)
    writer.write("en/printer-jam.md", article("printer-jam", "Printer jam",
                                              "Open tray two. See [mail](kb:mail-setup)."))
    writer.write("en/mail-setup.md", article("mail-setup", "Mail setup", "Add the account.",
                                             related=("printer-jam",)))
    writer.write("en/vpn-notes.md", article("vpn-notes", "VPN notes", "Read [the jam](kb:printer-jam) first.",
                                            related=("printer-jam",)))
    writer.push("four articles and a path")
    assert kb_sync(node, origin)["outcome"] == "synced"
    return writer


def search_ids(site: FlaskClient, query: str) -> list[str]:
    return [hit["id"] for hit in site.get("/api/search", query_string={"q": query}).get_json()["hits"]]


def warnings_on_status(site: FlaskClient) -> list[dict[str, Any]]:
    return [p for p in site.get("/status.json").get_json()["problems"] if p["severity"] == "warning"]


def test_deleting_an_onboarding_step_publishes_the_rest_of_the_push_and_later_pushes(
        published: Writer, node: Settings, origin: Path, site: FlaskClient) -> None:
    published.remove("en/printer-jam.md")
    published.write("en/mail-setup.md", article("mail-setup", "Mail setup", "Add the account with OAuth tokens.",
                                                related=("printer-jam",)))
    deleting = published.push("retire the printer article", author="Pat Deleter")
    result = kb_sync(node, origin)
    assert result["outcome"] == "synced", result
    assert result["removed"] == 1 and result["changed"] >= 1
    assert search_ids(site, "oauth") == ["mail-setup"]  # the other edit of that push is live
    assert "printer-jam" not in search_ids(site, "printer jam")
    warnings = warnings_on_status(site)
    onboarding = [w for w in warnings if w["path"] == "_kb/onboarding.yaml"]
    assert onboarding and "'printer-jam'" in onboarding[0]["message"]
    assert f"deleted in {deleting[:10]} by Pat Deleter" in onboarding[0]["message"]
    assert onboarding[0]["commit"] == deleting and onboarding[0]["author"] == "Pat Deleter"
    assert any(w["path"] == "en/mail-setup.md" and "related" in w["message"] and deleting[:10] in w["message"]
               for w in warnings)
    assert not [p for p in site.get("/status.json").get_json()["problems"] if p["severity"] == "error"]
    page = site.get("/onboarding/basics").get_data(as_text=True)
    assert "Mail setup" in page and "VPN fails with error 809" in page
    assert "printer-jam" not in page and 'data-total="2"' in page  # the path shows the remaining steps
    body = site.get("/articles/vpn-notes").get_data(as_text=True)
    assert 'href="/articles/printer-jam"' not in body and "the jam" in body  # the link is plain text now

    published.article("next-push", "Next push", "Toner replacement steps.")
    later = published.push("an unrelated article")
    again = kb_sync(node, origin)
    assert again["outcome"] == "synced" and again["commit"] == later
    assert search_ids(site, "toner") == ["next-push"]
    assert any(deleting[:10] in w["message"] for w in warnings_on_status(site))  # still named, a push later


def test_a_broken_article_holds_back_only_itself_and_status_blames_only_its_author(
        published: Writer, node: Settings, origin: Path, site: FlaskClient) -> None:
    published.write("en/printer-jam.md", "---\nid: printer-jam\ntitle: Printer jam\ntype: nonsense\n---\nBroken.\n")
    published.write("en/vpn-notes.md", article("vpn-notes", "VPN notes", "Read [the jam](kb:printer-jam) "
                                                "first, then check the firewall.", related=("printer-jam",)))
    published.push("break one, improve another", author="Robin Breaker")
    result = kb_sync(node, origin)
    assert result["outcome"] == "synced"
    assert list(result["kept"]) == ["en/printer-jam.md"] and result["left_out"] == []
    assert search_ids(site, "firewall") == ["vpn-notes"]  # the good edit that links to the broken one is live
    assert search_ids(site, "printer jam")[:1] == ["printer-jam"]  # served at its last good version
    problems = site.get("/status.json").get_json()["problems"]
    assert problems and {p["path"] for p in problems} == {"en/printer-jam.md"}  # nothing blamed on vpn-notes
    assert all(p["served"].startswith("kept") for p in problems if p["severity"] == "error")
    body = site.get("/articles/vpn-notes").get_data(as_text=True)
    assert 'href="/articles/printer-jam"' in body  # the link still works: its target is served


def test_a_new_broken_article_is_left_out_and_links_to_it_are_plain_text(
        published: Writer, node: Settings, origin: Path, site: FlaskClient) -> None:
    published.write("en/brand-new.md", "---\nid: brand-new\ntitle: [not, a, string]\n---\nBody.\n")
    published.write("en/mail-setup.md", article("mail-setup", "Mail setup", "Add the account, then read "
                                                "[the new one](kb:brand-new) about quotas.", related=("brand-new",)))
    published.push("a broken new article and a link to it")
    result = kb_sync(node, origin)
    assert result["outcome"] == "synced" and result["left_out"] == ["en/brand-new.md"]
    assert search_ids(site, "quotas") == ["mail-setup"]
    body = site.get("/articles/mail-setup").get_data(as_text=True)
    assert "the new one" in body and "/articles/brand-new" not in body
    problems = site.get("/status.json").get_json()["problems"]
    assert {p["path"] for p in problems if p["severity"] == "error"} == {"en/brand-new.md"}
    assert any(p["path"] == "en/mail-setup.md" and p["severity"] == "warning" for p in problems)


def test_deleting_a_linked_article_and_breaking_the_vocabulary_in_one_push(
        published: Writer, node: Settings, origin: Path, site: FlaskClient) -> None:
    published.remove("en/mail-setup.md")
    published.write("_kb/tags.yaml", "windows: {zh: Windows}\n")  # broken: no English name
    published.article("fresh", "Fresh article", "Badge reader reset.")
    published.push("mixed push")
    result = kb_sync(node, origin)
    assert result["outcome"] == "synced", result
    assert "_kb/" in result["kept"]  # the vocabulary is served at its last good version
    assert search_ids(site, "badge") == ["fresh"] and "mail-setup" not in search_ids(site, "mail setup")
    body = site.get("/articles/printer-jam").get_data(as_text=True)
    assert 'href="/articles/mail-setup"' not in body and ">mail<" in body


def test_kb_check_still_reports_a_deleted_reference_as_an_error(published: Writer) -> None:
    published.remove("en/printer-jam.md")
    result = CliRunner().invoke(cli, ["check", "--articles", str(published.root)])
    assert result.exit_code == 1
    assert "_kb/onboarding.yaml" in result.output and "printer-jam" in result.output
    assert git(published.root, "status", "--porcelain").strip()  # nothing was pushed: the writer fixes it first
