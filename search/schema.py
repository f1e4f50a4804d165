"""The index schema, and turning an Article into the document the index stores."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from kb.article import Article
from kb.ids import article_keys
from kb.vocabulary import Vocabulary
from search.analysis import KbTokenizer
from search.results import FILTERS

if TYPE_CHECKING:
    from kb.gitmeta import FileHistory
    from kb.render import RenderedBody

# Bump when the schema or the analysis changes: an incremental build then becomes a full one.
SCHEMA_VERSION = 7

# Text fields searched by free text, with their BM25F weights (applied at query time, so tuning
# does not need a rebuild).
FIELD_WEIGHTS: dict[str, float] = {
    "title": 5.0,
    "errors": 4.0,
    "summary": 2.0,
    "labels": 1.5,
    "headings": 2.0,
    "body": 1.0,
}
TEXT_FIELDS = tuple(FIELD_WEIGHTS)
# Filter fields: query prefix -> index field.
FILTER_FIELDS = {name: name for name in FILTERS}
FACET_FIELDS = ("category", "tag", "product", "type", "lang")


def make_schema(user_dict: Sequence[str]) -> Schema:
    """The schema; the analyzer (with the user dictionary) is pickled into the index."""
    analyzer = KbTokenizer(user_dict)
    return Schema(
        id=ID(stored=True, unique=True),
        # Normalised id and aliases (old ids and paths), so old links still find the article.
        key=KEYWORD(commas=True),
        title=TEXT(analyzer=analyzer, stored=True),
        summary=TEXT(analyzer=analyzer),
        errors=TEXT(analyzer=analyzer),
        labels=TEXT(analyzer=analyzer),
        headings=TEXT(analyzer=analyzer),
        body=TEXT(analyzer=analyzer, stored=True),
        category=KEYWORD(commas=True),
        tag=KEYWORD(commas=True),
        product=KEYWORD(commas=True),
        type=ID,
        lang=ID,
        state=ID,
        meta=STORED,
        html=STORED,
    )


_FENCE = re.compile(r"^(```|~~~).*$", re.M)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]{0,200}>")
_MARKUP = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+\[[ xX]\]\s+|\|)"
                     r"|(?<!\w)[*_]{1,3}(?=\S)|(?<=\S)[*_]{1,3}(?!\w)|`+"
                     r"|\s*\|\s*$|^\s*\|?[-:| ]{3,}\|?\s*$", re.M)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_BLANKS = re.compile(r"\n{3,}")


def plain_text(markdown: str) -> str:
    """Readable text of a Markdown body, for indexing and snippets (code kept: errors live there)."""
    text = _FENCE.sub("", markdown)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _MARKUP.sub("", text)
    text = html.unescape(text)
    return _BLANKS.sub("\n\n", text).strip()


def headings(markdown: str) -> list[str]:
    """The Markdown headings' text."""
    return [h.strip("#* `") for h in _HEADING.findall(_FENCE.sub("", markdown))]


def with_ancestors(slugs: Sequence[str]) -> list[str]:
    """`network/vpn` -> [`network`, `network/vpn`], so a filter on a parent finds its children."""
    out: list[str] = []
    for slug in slugs:
        parts = slug.split("/")
        for n in range(1, len(parts) + 1):
            value = "/".join(parts[:n])
            if value not in out:
                out.append(value)
    return out


def label_text(article: Article, vocabulary: Vocabulary) -> str:
    """Category, tag and product names in both languages, so `VPN` or `网络` find the article."""
    names: list[str] = []
    for slug in with_ancestors(article.categories):
        label = vocabulary.categories.get(slug)
        names.extend([label.zh, label.en] if label else [slug.replace("/", " ")])
    for tag in article.tags:
        label = vocabulary.tags.get(tag)
        names.extend([label.zh, label.en] if label else [tag])
    for product in article.products:
        product_id, _, version = product.partition("@")
        known = vocabulary.products.get(product_id)
        names.append(f"{known.name if known else product_id} {version}".strip())
    return "\n".join(dict.fromkeys(names))


def article_document(article: Article, rendered: RenderedBody | None, vocabulary: Vocabulary,
                     history: FileHistory | None = None) -> dict[str, Any]:
    """The fields the index stores for one article (everything as plain strings); `history`
    (its last commit, from git) is stored so that readers need no git checkout."""
    toc: list[dict[str, Any]] = [
        {"level": getattr(h, "level", 2), "text": str(getattr(h, "text", "")), "anchor": getattr(h, "anchor", "")}
        for h in rendered.toc] if rendered else []
    meta = {
        "path": article.path,
        "title": article.title,
        "summary": article.summary,
        "type": article.type,
        "state": article.state,
        "lang": article.lang,
        "categories": list(article.categories),
        "tags": list(article.tags),
        "products": list(article.products),
        "errors": list(article.errors),
        "translation_of": article.translation_of,
        "owner": article.owner,
        "reviewed": article.reviewed.isoformat() if article.reviewed else None,
        "review_due": article.review_due.isoformat() if article.review_due else None,
        "aliases": list(article.aliases),
        "related": list(article.related),
        "toc": toc,
        "updated": history.updated.isoformat() if history else None,
        "updated_by": history.updated_by if history else "",
        "created": history.created.isoformat() if history and history.created else None,  # first commit
    }
    body = plain_text(article.body)
    heading_text = "\n".join(str(h["text"]) for h in toc) if toc else "\n".join(headings(article.body))
    labels = label_text(article, vocabulary)
    return {
        "id": article.id,
        "title": article.title,
        "summary": article.summary,
        "errors": "\n".join(article.errors),
        "labels": labels,
        "headings": heading_text,
        "body": body,
        "key": ",".join(k for k in article_keys(article) if "," not in k),
        "category": ",".join(with_ancestors(article.categories)),
        "tag": ",".join(article.tags),
        "product": ",".join(with_ancestors_product(article.products)),
        "type": article.type,
        "lang": article.lang,
        "state": article.state,
        "meta": meta,
        "html": rendered.html if rendered else "",
    }


def with_ancestors_product(products: Sequence[str]) -> list[str]:
    """`windows@11` is found by `product:windows` and by `product:windows@11`."""
    out: list[str] = []
    for product in products:
        for value in (product.partition("@")[0], product):
            if value not in out:
                out.append(value)
    return out


_SPELL_WORD = re.compile(r"[a-z]{3,24}")


def spelling_words(document: dict[str, Any]) -> set[str]:
    """The English words of a document, unstemmed, for spelling correction."""
    text = " ".join((document["title"], document["summary"], document["headings"], document["body"]))
    return set(_SPELL_WORD.findall(text.lower()))


def source_key(article: Article, rendered: RenderedBody | None, vocabulary: Vocabulary,
               history: FileHistory | None = None) -> str:
    """A hash of everything an article's document is made from (for incremental builds).

    Cheaper than building the document; bump SCHEMA_VERSION when `article_document` changes.
    """
    # repr() of the long strings (body, HTML) would escape them character by character: join them as they are.
    parts = [repr(dataclasses.replace(article, body="")), article.body, label_text(article, vocabulary),
             f"{history.updated.isoformat()} {history.updated_by} {history.created}" if history else ""]
    if rendered is not None:
        parts += [rendered.html, repr(rendered.toc)]
    data = "\0".join(parts)
    return hashlib.blake2b(data.encode("utf-8"), digest_size=20).hexdigest()
