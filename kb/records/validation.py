"""Checking record fields before anything is stored; each error names the field and the rule."""

from __future__ import annotations

import re
from collections.abc import Collection

from kb.records.errors import InvalidRecordError
from kb.records.models import RELATIONS, SOURCES

TICKET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:#/-]{0,63}")
TICKET_SYSTEM = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
CATEGORY = re.compile(r"[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*")
DEFAULT_TICKET_SYSTEM = "default"
MAX_USER = 200
MAX_NOTE = 2000
MAX_ARTICLE_KEY = 200
MAX_QUERY = 500
MAX_SUBJECT = 500  # a ticket subject line


def _text(value: object, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRecordError(f"{name} must be a string, got {type(value).__name__}")
    return value.strip()


def _printable(value: str, name: str) -> str:
    if any(ch in value for ch in "\x00") or any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise InvalidRecordError(f"{name} contains control characters")
    return value


def ticket_id(value: object) -> str:
    """A ticket id: 1-64 letters, digits and . _ : # / -, starting with a letter or digit."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _text(value, "ticket_id")
    if not text:
        raise InvalidRecordError("ticket_id is required")
    if not TICKET_ID.fullmatch(text):
        raise InvalidRecordError(
            f"ticket_id {text[:80]!r} is malformed: use 1-64 letters, digits and . _ : # / - (e.g. INC-10234)")
    return text


def ticket_system(value: object) -> str:
    """The ticketing system's short name, lower case (default: `default`)."""
    text = _text(value, "ticket_system").lower() or DEFAULT_TICKET_SYSTEM
    if not TICKET_SYSTEM.fullmatch(text):
        raise InvalidRecordError(f"ticket_system {text[:60]!r} is malformed: use 1-40 lower-case letters, "
                                 "digits and . _ -")
    return text


def category(value: object, known: Collection[str] | None) -> str:
    """A ticket category slug such as `network/vpn`, from the vocabulary when one is given."""
    text = _text(value, "category").lower().strip("/")
    if not text:
        raise InvalidRecordError("category is required (a ticket category such as network/vpn)")
    if not CATEGORY.fullmatch(text) or len(text) > 200:
        raise InvalidRecordError(f"category {text[:80]!r} is malformed: use slugs like network/vpn")
    if known is not None and text not in known:
        raise InvalidRecordError(f"unknown category {text!r}; it must be one of the categories in "
                                 "articles/_kb/categories.yaml")
    return text


def relation(value: object) -> str:
    """`resolved` (default), `referenced` or `created_from`."""
    text = _text(value, "relation").lower() or "resolved"
    if text not in RELATIONS:
        raise InvalidRecordError(f"relation {text[:40]!r} is not one of {', '.join(RELATIONS)}")
    return text


def source(value: str) -> str:
    """Where a record came from."""
    if value not in SOURCES:
        raise InvalidRecordError(f"source {value!r} is not one of {', '.join(SOURCES)}")
    return value


def user(value: object) -> str:
    """Who recorded it: free text up to 200 characters (may be empty)."""
    text = _printable(_text(value, "user"), "user")
    if len(text) > MAX_USER:
        raise InvalidRecordError(f"user is longer than {MAX_USER} characters")
    return text


def note(value: object, name: str = "note", limit: int = MAX_NOTE) -> str:
    """A free-text note up to 2000 characters."""
    text = _printable(_text(value, name), name)
    if len(text) > limit:
        raise InvalidRecordError(f"{name} is longer than {limit} characters")
    return text


def article_key(value: object) -> str:
    """The article id or alias as given (resolved to the current id by the store)."""
    text = _text(value, "article")
    if not text:
        raise InvalidRecordError("article is required (an article id or one of its aliases)")
    if len(text) > MAX_ARTICLE_KEY:
        raise InvalidRecordError(f"article is longer than {MAX_ARTICLE_KEY} characters")
    return _printable(text, "article")
