"""The bundled knowledge base is valid and is what the issue promises a new team."""

from __future__ import annotations

from collections import Counter

import pytest

from kb.loader import KnowledgeBase, LoadOptions, load_knowledge_base
from tests.conftest import BUNDLED_ARTICLES

KCS_SECTIONS = {"en": ("Issue", "Environment", "Resolution", "Cause"), "zh": ("问题", "环境", "解决方法", "原因")}


@pytest.fixture(scope="module")
def bundled() -> KnowledgeBase:
    return load_knowledge_base(BUNDLED_ARTICLES, LoadOptions(git_history=False))


def test_bundled_articles_have_no_errors(bundled: KnowledgeBase) -> None:
    assert [str(p) for p in bundled.errors] == []


def test_at_least_40_articles_about_half_in_each_language(bundled: KnowledgeBase) -> None:
    langs = Counter(a.lang for a in bundled.articles)
    assert sum(langs.values()) >= 40
    assert min(langs["zh"], langs["en"]) >= 0.4 * sum(langs.values())


def test_at_least_8_translated_pairs_point_at_each_other(bundled: KnowledgeBase) -> None:
    by_id = bundled.by_id()
    pairs = {frozenset((a.id, a.translation_of)) for a in bundled.articles if a.translation_of}
    assert len(pairs) >= 8
    for pair in pairs:
        first, second = (by_id[i] for i in pair)
        assert first.translation_of == second.id and second.translation_of == first.id
        assert first.lang != second.lang


def test_onboarding_path_for_new_support_engineers(bundled: KnowledgeBase) -> None:
    paths = bundled.vocabulary.onboarding
    assert paths, "no onboarding path"
    by_id = bundled.by_id()
    for path in paths.values():
        assert len(path.steps) >= 5
        assert all(step in by_id for step in path.steps)


def test_problem_articles_follow_kcs_and_name_their_errors(bundled: KnowledgeBase) -> None:
    problems = [a for a in bundled.articles if a.type == "problem"]
    assert len(problems) >= 20
    for article in problems:
        anchors = {h.text for h in bundled.rendered[article.id].toc}
        assert set(KCS_SECTIONS[article.lang]) <= anchors, article.path
    assert sum(1 for a in problems if a.errors) >= 0.8 * len(problems)


def test_ticket_categories_named_by_the_issue_are_covered(bundled: KnowledgeBase) -> None:
    used = {c.split("/")[0] for a in bundled.articles for c in a.categories}
    assert {"accounts", "network", "email", "printing", "devices", "storage", "software", "meetings",
            "security", "support"} <= used
