"""`kb check`: every kind of malformed article is reported with its path and line."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.loader import KnowledgeBase, LoadOptions, load_knowledge_base
from kbcli.main import cli
from tests.conftest import VALID_ARTICLE, ArticleWriter, dedent

TODAY = dt.date(2026, 11, 24)


def load(root: Path, **options: object) -> KnowledgeBase:
    return load_knowledge_base(root, LoadOptions(today=TODAY, git_history=False, **options))  # type: ignore[arg-type]


def errors_for(kb: KnowledgeBase, rel: str) -> list[str]:
    return [str(p) for p in kb.errors if p.path == rel]


def article(front: str, body: str = "## Issue\n\nx\n\n## Environment\n\n## Resolution\n\n## Cause\n") -> str:
    return f"---\n{dedent(front)}---\n{body}"


def test_valid_fixture_has_no_problems(articles_dir: Path) -> None:
    kb = load(articles_dir)
    assert kb.problems == []
    assert [a.id for a in kb.articles] == ["vpn-error-809"]
    assert kb.articles[0].reviewed == dt.date(2026, 9, 1)


@pytest.mark.parametrize(
    ("front", "line", "needle"),
    [
        ("id: a\ntitle: [unclosed\n", 3, "YAML syntax error"),
        ("id: a\ntitle: x\n\tsummary: y\n", 4, "tab used for indentation"),
        ("id: a\ntitle: x\ntitle: y\n", 4, "duplicate key 'title' (first on line 3)"),
        ("id: a\ntitle: x\n1: y\n", 4, "key '1' is not a string"),
        ("- id: a\n- title: x\n", 2, "must be a mapping"),
        ("id: a\ntitle: no\n", 3, "title: must be a string, got a yes/no value (false)"),
        ("id: a\ntitle: [a, b]\n", 3, "title: must be a string, got a list"),
        ("id: a\ntitle: x\nreview_every: often\n", 4, "review_every: must be a whole number"),
        ("id: a\ntitle: x\ntags: 5\n", 4, "tags: must be a list of strings"),
        ("id: a\ntitle: x\nreviewed: 2026-02-30\n", 4, "reviewed"),
        ("id: a\ntitle: x\nreviewed: March 1\n", 4, "reviewed: must be a date written YYYY-MM-DD"),
        ("id: a\ntitle: x\ntitel: y\n", 4, "unknown key `titel`; did you mean `title`?"),
        ("id: a\ntitle: x\nbase: &b [1]\nother: *b\n", 4, "YAML anchors and aliases"),
        ("id: a\ntitle: x\ntype: bug\n", 4, "type: must be one of problem, howto, reference, onboarding"),
        ("id: 'bad id!'\ntitle: x\n", 2, "is not URL-safe"),
        ("id: a\u200bb\ntitle: x\n", 2, "U+200B ZERO WIDTH SPACE"),
        ("id: a\ntitle: \"evil\u202etxt\"\n", 3, "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ],
)
def test_front_matter_fault_is_reported_at_its_line(
    articles_dir: Path, write_article: ArticleWriter, front: str, line: int, needle: str
) -> None:
    write_article("en/bad.md", article(front))
    kb = load(articles_dir)
    found = errors_for(kb, "en/bad.md")
    assert any(f"en/bad.md:{line}:" in p and needle in p for p in found), found
    assert "a" not in {a.id for a in kb.articles}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "file is empty"),
        ("   \n\n", "file is empty"),
        ("Just text, no front-matter.\n", "no front-matter"),
        ("---\nid: a\ntitle: x\n\nbody without a closing fence\n", "never closed"),
        ("---\ntitle: x\n---\nbody\n", "missing required `id:`"),
        ("---\nid: a\n---\nbody\n", "missing required `title:`"),
    ],
)
def test_file_level_fault_is_reported(articles_dir: Path, write_article: ArticleWriter, text: str, needle: str) -> None:
    write_article("en/bad.md", text)
    found = errors_for(load(articles_dir), "en/bad.md")
    assert any(needle in p for p in found), found


def test_duplicate_ids_name_both_paths_after_case_folding(articles_dir: Path, write_article: ArticleWriter) -> None:
    write_article("en/copy.md", article("id: VPN-Error-809\ntitle: Copy\n"))
    kb = load(articles_dir)
    first = errors_for(kb, "en/vpn-error-809.md")
    second = errors_for(kb, "en/copy.md")
    assert any("duplicate id" in p and "en/copy.md" in p for p in first)
    assert any("duplicate id" in p and "en/vpn-error-809.md" in p for p in second)
    assert kb.articles == []


def test_alias_equal_to_another_id_and_duplicate_aliases(articles_dir: Path, write_article: ArticleWriter) -> None:
    write_article("en/a.md", article("id: a\ntitle: A\naliases: [vpn-error-809, old]\n"))
    write_article("en/b.md", article("id: b\ntitle: B\naliases: [OLD]\n"))
    kb = load(articles_dir)
    assert any("alias 'vpn-error-809' is the id of en/vpn-error-809.md" in p for p in errors_for(kb, "en/a.md"))
    assert any("duplicate alias" in p and "en/a.md" in p for p in errors_for(kb, "en/b.md"))


def test_unknown_vocabulary_values_list_the_allowed_ones(articles_dir: Path, write_article: ArticleWriter) -> None:
    write_article("en/a.md", article(
        "id: a\ntitle: A\ncategories:\n  - network/vpn\n  - netwrk\ntags: [linux]\nproducts: [windows@7, zoom]\n"))
    found = errors_for(load(articles_dir), "en/a.md")
    assert any("en/a.md:6:" in p and "unknown category 'netwrk'" in p and "network/vpn" in p for p in found), found
    assert any("unknown tag 'linux'" in p and "allowed: error-code, windows" in p for p in found)
    assert any("unknown version '7' of 'windows'; allowed: 10, 11" in p for p in found)
    assert any("unknown product 'zoom'" in p for p in found)


def test_onboarding_path_naming_a_missing_article(articles_dir: Path) -> None:
    (articles_dir / "_kb" / "onboarding.yaml").write_text(dedent("""\
        basics:
          title: {en: Basics, zh: 基础}
          audience: {en: New staff, zh: 新员工}
          steps:
            - vpn-error-809
            - no-such-article
        """), encoding="utf-8")
    found = errors_for(load(articles_dir), "_kb/onboarding.yaml")
    assert any("_kb/onboarding.yaml:6:" in p and "'no-such-article'" in p for p in found), found


def test_broken_internal_links_to_article_and_heading(articles_dir: Path, write_article: ArticleWriter) -> None:
    body = ("## Issue\n\nSee [ok](kb:vpn-error-809#resolution) and [gone](kb:missing-article).\n\n"
            "Also [path](vpn-error-809.md#no-such-heading).\n\n## Environment\n\n## Resolution\n\n## Cause\n")
    write_article("en/a.md", article("id: a\ntitle: A\n", body))
    found = errors_for(load(articles_dir), "en/a.md")
    assert any("en/a.md:7:" in p and "'kb:missing-article'" in p for p in found), found
    assert any("en/a.md:9:" in p and "has no heading #no-such-heading" in p for p in found), found
    assert not any("#resolution" in p for p in found)


def test_related_and_translation_must_exist(articles_dir: Path, write_article: ArticleWriter) -> None:
    write_article("en/a.md", article("id: a\ntitle: A\nrelated: [nope]\ntranslation_of: gone-zh\n"))
    found = errors_for(load(articles_dir), "en/a.md")
    assert any("related: no article has id 'nope'" in p for p in found)
    assert any("translation_of: no article has id 'gone-zh'" in p for p in found)


def test_not_utf8_binary_and_oversized_files(articles_dir: Path) -> None:
    (articles_dir / "en" / "latin1.md").write_bytes(b"---\nid: a\ntitle: caf\xe9\n---\n")
    (articles_dir / "en" / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (articles_dir / "en" / "huge.md").write_text("---\nid: h\ntitle: h\n---\n" + "x" * 2000, encoding="utf-8")
    kb = load(articles_dir, max_bytes=1000)
    assert any("en/latin1.md:3:" in p and "not valid UTF-8" in p for p in errors_for(kb, "en/latin1.md"))
    assert any("binary file" in p for p in errors_for(kb, "en/image.md"))
    assert any("over the 1,000-byte limit" in p for p in errors_for(kb, "en/huge.md"))


def test_symlinks_are_reported_and_never_followed(articles_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text(article("id: secret\ntitle: Secret\n"), encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.md").write_text(article("id: outside\ntitle: Outside\n"), encoding="utf-8")
    os.symlink(secret, articles_dir / "en" / "link.md")
    os.symlink(outside, articles_dir / "linked-folder")
    kb = load(articles_dir)
    assert any("symbolic link" in p for p in errors_for(kb, "en/link.md"))
    assert any("symbolic link" in p for p in errors_for(kb, "linked-folder"))
    assert {a.id for a in kb.articles} == {"vpn-error-809"}


def test_pathological_nesting_is_reported_not_rendered(articles_dir: Path, write_article: ArticleWriter) -> None:
    write_article("en/deep.md", article("id: deep\ntitle: Deep\n", "> " * 5000 + "x\n"))
    found = errors_for(load(articles_dir), "en/deep.md")
    assert any("cannot be rendered safely: quotes or lists nest" in p for p in found), found


def test_conflict_markers_are_reported_at_their_lines(articles_dir: Path, write_article: ArticleWriter) -> None:
    body = "Intro\n<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> branch\n"
    write_article("en/merge.md", article("id: merge\ntitle: Merge\n", body))
    found = errors_for(load(articles_dir), "en/merge.md")
    assert any("en/merge.md:6:" in p and "conflict marker" in p for p in found), found
    assert any("en/merge.md:10:" in p and "conflict marker" in p for p in found), found


def test_setext_heading_underline_is_not_a_conflict_marker(articles_dir: Path, write_article: ArticleWriter) -> None:
    write_article("en/setext.md", article("id: setext\ntitle: S\nsummary: s\ntype: howto\n", "Title\n=======\n"))
    assert errors_for(load(articles_dir), "en/setext.md") == []


def test_warnings_for_overdue_review_missing_summary_and_raw_html(
    articles_dir: Path, write_article: ArticleWriter
) -> None:
    write_article("en/w.md", article(
        "id: w\ntitle: W\ntype: howto\nreviewed: 2025-01-01\nreview_every: 30\n",
        "Text <script>alert(1)</script> and <b onclick=\"x()\">bold</b>.\n"))
    kb = load(articles_dir)
    warnings = [str(p) for p in kb.warnings if p.path == "en/w.md"]
    assert any("en/w.md:5:" in p and "review overdue since 2025-01-31" in p for p in warnings), warnings
    assert any("no `summary:`" in p for p in warnings)
    assert any("raw HTML" in p for p in warnings)
    assert "w" in {a.id for a in kb.articles}


def test_problem_article_without_kcs_sections_gets_a_warning(articles_dir: Path, write_article: ArticleWriter) -> None:
    write_article("en/p.md", article("id: p\ntitle: P\nsummary: s\n", "Just some text.\n"))
    warnings = [str(p) for p in load(articles_dir).warnings if p.path == "en/p.md"]
    assert any("KCS section(s) Issue, Environment, Resolution, Cause" in p for p in warnings)


def test_bom_and_crlf_are_accepted_silently(articles_dir: Path) -> None:
    text = dedent(VALID_ARTICLE).replace("vpn-error-809", "crlf-article").replace("\n", "\r\n")
    (articles_dir / "en" / "crlf.md").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    kb = load(articles_dir)
    assert [p for p in kb.problems if p.path == "en/crlf.md"] == []
    loaded = {a.id: a for a in kb.articles}["crlf-article"]
    assert loaded.title == "VPN fails with error 809"
    assert "\r" not in loaded.body


def test_broken_vocabulary_is_reported(articles_dir: Path) -> None:
    (articles_dir / "_kb" / "categories.yaml").write_text("network: {en: Network}\nnet/x: {zh: 甲, en: A}\n",
                                                         encoding="utf-8")
    found = errors_for(load(articles_dir), "_kb/categories.yaml")
    assert any("_kb/categories.yaml:1:" in p and "Chinese and an English name" in p for p in found), found
    assert any("_kb/categories.yaml:2:" in p and "'net', which is not defined" in p for p in found), found


# The command itself


def run_check(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check", "--articles", str(root), *args])
    return result.exit_code, result.stdout, result.stderr


def test_check_prints_path_line_col_and_exits_1_on_errors(articles_dir: Path, write_article: ArticleWriter) -> None:
    write_article("en/bad.md", article("id: a\ntitle: no\n"))
    code, out, err = run_check(articles_dir)
    assert code == 1
    assert "en/bad.md:3:1: error: title: must be a string" in out
    assert "Traceback" not in out + err
    assert "1 valid article; 1 error" in err


def test_check_passes_clean_tree_and_strict_fails_on_warnings(articles_dir: Path, write_article: ArticleWriter) -> None:
    assert run_check(articles_dir)[0] == 0
    write_article("en/nosummary.md", article("id: ns\ntitle: No summary\ntype: howto\n", "Body.\n"))
    assert run_check(articles_dir)[0] == 0
    code, out, _ = run_check(articles_dir, "--strict")
    assert code == 1
    assert "warning: no `summary:`" in out


def test_check_on_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run_check(tmp_path / "nowhere")
    assert code == 2
    assert "does not exist" in err


@pytest.mark.parametrize(
    ("raw", "line", "needle"),
    [
        ("\n\n---\nid: a\ntitle: A\n---\nbody\n", 3, "front-matter must start on line 1"),
        ("---\nid: a\ntitle: A\nreviewed: 2026-13-01\n---\n", 4, "'2026-13-01' is not a real calendar date"),
        ("---\nid: a\ntitle: A\naliases: [\"old\u200d\"]\n---\n", 4, "U+200D ZERO WIDTH JOINER"),
    ],
)
def test_more_faults_at_their_lines(articles_dir: Path, write_article: ArticleWriter, raw: str, line: int,
                                    needle: str) -> None:
    (articles_dir / "en" / "bad.md").write_text(raw, encoding="utf-8")
    found = errors_for(load(articles_dir), "en/bad.md")
    assert any(f"en/bad.md:{line}:" in p and needle in p for p in found), found


def test_utf16_file_is_named_as_such(articles_dir: Path) -> None:
    (articles_dir / "en" / "utf16.md").write_bytes("---\nid: a\ntitle: A\n---\n".encode("utf-16"))
    assert any("UTF-16" in p for p in errors_for(load(articles_dir), "en/utf16.md"))


def test_percent_quoted_link_is_resolved_once_where_rendered(articles_dir: Path, write_article: ArticleWriter,
                                                             tmp_path: Path) -> None:
    # The renderer unquotes `other%20file.md` and links it; the checker and the build agree with it.
    write_article("en/other file.md", article("id: other-file\ntitle: Other file\nsummary: The other one.\n"))
    body = "## Issue\n\nSee [x](other%20file.md#issue).\n\n## Environment\n\n## Resolution\n\n## Cause\n"
    write_article("en/linking.md", article("id: linking\ntitle: Linking zebra\nsummary: Links.\n", body))
    code, out, err = run_check(articles_dir)
    assert "broken link" not in out, out
    assert code == 0, out + err
    index = tmp_path / "index"
    built = CliRunner().invoke(cli, ["build", "--articles", str(articles_dir), "--index", str(index)])
    assert built.exit_code == 0, built.output
    found = CliRunner().invoke(cli, ["search", "--index", str(index), "--json", "zebra"])
    assert [hit["id"] for hit in json.loads(found.stdout)["hits"]] == ["linking"]
    from search.service import SearchService

    view = SearchService(index).get_article("linking")
    assert view is not None and 'href="/articles/other-file#issue"' in view.html
