"""Shared fixtures: tiny article folders written into tmp_path, with a real vocabulary."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUNDLED_ARTICLES = REPO / "articles"
SHARED_CORPORA = REPO.parent / "shared" / "corpora"

VOCABULARY = {
    "categories.yaml": """\
        network: {zh: 网络, en: Network}
        network/vpn: {zh: VPN, en: VPN}
        email: {zh: 邮件, en: Email}
        email/outlook: {zh: Outlook 客户端, en: Outlook client}
        """,
    "tags.yaml": """\
        windows: {zh: Windows, en: Windows}
        error-code: {zh: 错误代码, en: Error code}
        """,
    "products.yaml": """\
        windows: {name: Windows, versions: ["10", "11"]}
        outlook: {name: Microsoft Outlook}
        """,
    "synonyms.yaml": """\
        vpn: [虚拟专用网]
        """,
    "onboarding.yaml": """\
        basics:
          title: {en: Basics, zh: 基础}
          audience: {en: New staff, zh: 新员工}
          steps: [vpn-error-809]
        """,
    "userdict.txt": "虚拟专用网 20 n\n",
}

VALID_ARTICLE = """\
    ---
    id: vpn-error-809
    title: "VPN fails with error 809"
    summary: "The L2TP VPN times out behind home routers."
    type: problem
    state: validated
    categories: [network/vpn]
    tags: [windows, error-code]
    products: [windows@11]
    errors: ["Error 809"]
    lang: en
    owner: network-team
    reviewed: 2026-09-01
    review_every: 365
    ---
    ## Issue

    Connecting shows **Error 809**.

    ## Environment

    Windows 11.

    ## Resolution

    1. Switch the profile to IKEv2.

    ## Cause

    NAT drops ESP packets.
    """


def dedent(text: str) -> str:
    return textwrap.dedent(text)


ArticleWriter = Callable[[str, str], Path]


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """An articles folder with the test vocabulary and one valid article."""
    root = tmp_path / "articles"
    (root / "_kb").mkdir(parents=True)
    for name, text in VOCABULARY.items():
        (root / "_kb" / name).write_text(dedent(text), encoding="utf-8")
    (root / "en").mkdir()
    (root / "en" / "vpn-error-809.md").write_text(dedent(VALID_ARTICLE), encoding="utf-8")
    return root


@pytest.fixture
def write_article(articles_dir: Path) -> ArticleWriter:
    """Write an article (text is dedented) at a path relative to the articles folder."""

    def write(rel: str, text: str) -> Path:
        path = articles_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return write
