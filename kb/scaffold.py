"""`kb new`: a new article file with a fresh id and the structure its type calls for."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from pathlib import Path
from typing import Any

import frontmatter

from kb.errors import KbError
from kb.schema import ARTICLE_TYPES, LANGUAGES

BODIES = {
    ("problem", "en"): "## Issue\n\nWhat the user sees, in their words, with the exact error message.\n\n"
                       "## Environment\n\nProducts, versions, operating system.\n\n"
                       "## Resolution\n\n1. First step.\n\n## Cause\n\nWhy it happens.\n",
    ("problem", "zh"): "## 问题\n\n用户看到的现象（用用户的话），以及准确的错误信息。\n\n"
                       "## 环境\n\n产品、版本、操作系统。\n\n## 解决方法\n\n1. 第一步。\n\n## 原因\n\n问题的原因。\n",
    ("howto", "en"): "## Before you start\n\n## Steps\n\n1. First step.\n",
    ("howto", "zh"): "## 准备工作\n\n## 步骤\n\n1. 第一步。\n",
}
DEFAULT_BODY = {"en": "## Overview\n\n", "zh": "## 概述\n\n"}


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
MAX_SLUG_CHARS = 60
# Support words pypinyin reads with the wrong sound of 重 ("again" is chong, not zhong).
PINYIN_FIXES = {word: [[syllable] for syllable in reading.split()] for word, reading in {
    "重连": "chóng lián", "重装": "chóng zhuāng", "重试": "chóng shì", "重置": "chóng zhì", "重发": "chóng fā",
    "重登录": "chóng dēng lù", "重传": "chóng chuán", "重签": "chóng qiān", "重开": "chóng kāi",
}.items()}


def romanize(title: str) -> str:
    """Chinese words of a title in pinyin, one run of letters per word (`打印机脱机` -> `dayinji tuoji`)."""
    if not _CJK.search(title):
        return title
    import rjieba  # only Chinese titles pay for loading the dictionaries
    from pypinyin import lazy_pinyin, load_phrases_dict

    load_phrases_dict(PINYIN_FIXES)
    return " ".join("".join(lazy_pinyin(word)) if _CJK.search(word) else word for word in rjieba.cut(title))


def slugify(title: str) -> str:
    """An ASCII, URL-safe slug of a title; Chinese words become pinyin (`VPN 断线后无法重连` ->
    `vpn-duanxian-hou-wufa-chonglian`)."""
    text = unicodedata.normalize("NFKD", romanize(title)).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    if len(slug) > MAX_SLUG_CHARS:  # cut at a word boundary
        slug = slug[:MAX_SLUG_CHARS + 1].rsplit("-", 1)[0] if "-" in slug[:MAX_SLUG_CHARS] else slug[:MAX_SLUG_CHARS]
    return slug.strip("-")


def fresh_id(title: str, taken: set[str]) -> str:
    """A new id from the title, made unique against `taken` (normalised ids)."""
    base = slugify(title)
    if base and base not in taken:
        return base
    prefix = base or f"kb-{dt.date.today():%Y%m%d}"
    for number in range(2, 100):  # readable first: "dayinji-tuoji-2"
        candidate = f"{prefix}-{number}"
        if base and candidate not in taken:
            return candidate
    while True:
        candidate = f"{prefix}-{secrets.token_hex(2)}"
        if candidate not in taken:
            return candidate

def new_article(articles_dir: Path, title: str, article_type: str, lang: str,
                category: str | None, taken_ids: set[str], today: dt.date | None = None) -> Path:
    """Write a new article file and return its path; never overwrites a file."""
    if article_type not in ARTICLE_TYPES:
        raise KbError(f"--type must be one of {', '.join(ARTICLE_TYPES)}")
    if lang not in LANGUAGES:
        raise KbError(f"--lang must be one of {', '.join(LANGUAGES)}")
    if not title.strip():
        raise KbError("the title must not be empty")
    article_id = fresh_id(title, taken_ids)
    metadata: dict[str, Any] = {
        "id": article_id,
        "title": title.strip(),
        "type": article_type,
        "state": "draft",
        "lang": lang,
        "categories": [category] if category else [],
        "tags": [],
        "reviewed": (today or dt.date.today()).isoformat(),
        "review_every": 180,
    }
    if article_type == "problem":
        metadata["errors"] = []
    body = BODIES.get((article_type, lang), DEFAULT_BODY[lang])
    folder = articles_dir / lang / (category.split("/")[0] if category else article_type)
    target = folder / f"{article_id}.md"
    if target.exists():
        raise KbError(f"{target} already exists")
    folder.mkdir(parents=True, exist_ok=True)
    text = frontmatter.dumps(frontmatter.Post(body, **metadata), sort_keys=False, allow_unicode=True)
    # Dates must stay YYYY-MM-DD strings the schema reads as dates, not quoted text.
    text = text.replace(f"reviewed: '{metadata['reviewed']}'", f"reviewed: {metadata['reviewed']}")
    target.write_text(text + "\n", encoding="utf-8")
    return target
