"""The front-matter schema: every key an article may carry, declared once.

Nothing outside this module reads raw front-matter mappings; the loader hands
the parsed YAML here and gets typed values (or problems) back.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kb.i18n import _

ARTICLE_TYPES = ("problem", "howto", "reference", "onboarding")
ARTICLE_STATES = ("draft", "unverified", "validated", "archived")
# Visibility, declared once: a draft is never indexed or shown; an archived article is found when
# asked for (`state:archived`) and its page still answers, but listings leave it out.
HIDDEN_STATES = frozenset({"draft"})
UNLISTED_STATES = frozenset({"archived"})


def is_visible(state: str) -> bool:
    """Whether an article in this state is indexed and served at all."""
    return state not in HIDDEN_STATES


def is_listed(state: str) -> bool:
    """Whether an article in this state appears in listings (categories, recent, most used)."""
    return state not in HIDDEN_STATES and state not in UNLISTED_STATES
LANGUAGES = ("zh", "en")

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Characters that make two ids or titles look alike while differing, or that
# reorder text on screen (the "Trojan Source" family).
INVISIBLE_CHARS = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


class FieldError(ValueError):
    """A front-matter value has the wrong type or form."""


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError(_('must be a string, got %(value)s (quote it: "...")') % {"value": _describe(value)})
    if not value.strip():
        raise FieldError(_("must not be empty"))
    return value.strip()


def _string_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise FieldError(_("must be a list of strings, got %(value)s") % {"value": _describe(value)})
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise FieldError(_("item %(number)d must be a non-empty string, got %(value)s")
                             % {"number": i + 1, "value": _describe(item)})
        items.append(item.strip())
    return tuple(items)


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _string(value)
        if text not in options:
            raise FieldError(_("must be one of %(options)s; got %(value)r") % {"options": ", ".join(options),
                                                                                "value": text})
        return text

    return parse


def _article_id(value: Any) -> str:
    text = _string(value)
    _reject_invisible(text)
    if not ID_PATTERN.match(text):
        raise FieldError(_("%(value)r is not URL-safe: use letters, digits, '-', '_' or '.', starting with a "
                           "letter or digit, at most 128 characters") % {"value": text})
    return text


def _id_list(value: Any) -> tuple[str, ...]:
    return tuple(_article_id(item) for item in _string_list(value))


def _alias_list(value: Any) -> tuple[str, ...]:
    aliases = _string_list(value)
    for alias in aliases:
        _reject_invisible(alias)
    return aliases


def _reject_invisible(text: str) -> None:
    bad = INVISIBLE_CHARS.intersection(text)
    if bad:
        raise FieldError(_("contains invisible or bidi control character %(characters)s")
                         % {"characters": _codepoints(bad)})


def _title(value: Any) -> str:
    text = _string(value)
    _reject_invisible(text)
    return text


def _date(value: Any) -> dt.date:
    # YAML already turns a valid 2024-05-01 into a date; a string means it was
    # quoted or malformed, so check it the same way.
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and DATE_PATTERN.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise FieldError(_("%(value)r is not a real calendar date") % {"value": value}) from None
    raise FieldError(_("must be a date written YYYY-MM-DD, got %(value)r") % {"value": value})


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(_("must be a whole number of days, got %(value)s") % {"value": _describe(value)})
    if value <= 0:
        raise FieldError(_("must be at least 1 day, got %(value)d") % {"value": value})
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a yes/no value ({str(value).lower()})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"


def _codepoints(chars: set[str] | frozenset[str]) -> str:
    return ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in sorted(chars))


@dataclass(frozen=True)
class Field:
    """One front-matter key: how to parse it and what it means."""

    name: str
    parse: Callable[[Any], Any]
    doc: str
    required: bool = False
    example: str = ""


FIELDS: tuple[Field, ...] = (
    Field("id", _article_id, "Stable, unique, URL-safe id. Links and ticket records use it, so "
          "renaming the file never changes it.", required=True, example="vpn-error-809"),
    Field("title", _title, "The article's title, as a string.", required=True,
          example='"VPN fails with error 809"'),
    Field("summary", _string, "One or two sentences shown under the title in search results.",
          example='"The L2TP VPN times out behind home routers; switch to IKEv2."'),
    Field("type", _choice(ARTICLE_TYPES), "KCS article type: problem, howto, reference or "
          "onboarding. Default: problem.", example="problem"),
    Field("state", _choice(ARTICLE_STATES), "KCS state: draft (hidden), unverified, validated "
          "or archived (out of default results). Default: unverified.", example="validated"),
    Field("categories", _string_list, "Ticket categories from the vocabulary "
          "(articles/_kb/categories.yaml).", example="[network/vpn]"),
    Field("tags", _string_list, "Tags from the vocabulary (articles/_kb/tags.yaml).",
          example="[windows, remote-work]"),
    Field("products", _string_list, "Products from the vocabulary (articles/_kb/products.yaml), "
          "optionally with a version after '@'.", example="[globalprotect@6.1]"),
    Field("errors", _string_list, "Exact error messages and codes this article resolves; "
          "searchable verbatim.", example='["Error 809", "0x80070005"]'),
    Field("lang", _choice(LANGUAGES), "Language of the article: zh or en. Default: the "
          "KB_DEFAULT_LANG setting.", example="en"),
    Field("translation_of", _article_id, "Id of the same article in the other language.",
          example="vpn-error-809-zh"),
    Field("owner", _string, "Who keeps the article correct (a person or team).",
          example="network-team"),
    Field("reviewed", _date, "Date of the last review, YYYY-MM-DD.", example="2026-03-01"),
    Field("review_every", _positive_int, "Days between reviews; with `reviewed` gives the "
          "review-due date.", example="180"),
    Field("aliases", _alias_list, "Old ids and old paths of this article; the site redirects "
          "them here.", example="[vpn-809, network/old-vpn-page.md]"),
    Field("related", _id_list, "Ids of related articles.", example="[vpn-setup-windows]"),
)

FIELDS_BY_NAME: Mapping[str, Field] = {f.name: f for f in FIELDS}

# Keys that foreign corpora use for a summary, tried in order under --lenient.
FOREIGN_SUMMARY_KEYS = ("summary", "description")


def normalize_id(article_id: str) -> str:
    """The form under which two ids count as the same (case and Unicode folded)."""
    return unicodedata.normalize("NFKC", article_id).casefold()
