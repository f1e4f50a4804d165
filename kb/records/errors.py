"""Errors the records store raises; the CLI and the web layer translate them at the edges."""

from __future__ import annotations

from kb.errors import KbError


class RecordError(KbError):
    """Something about a record could not be stored or read."""


class InvalidRecordError(RecordError):
    """A field of a record is missing or malformed (the message names the field)."""

    exit_code = 2


class UnknownArticleError(InvalidRecordError):
    """The article id is neither a current id nor an alias of one."""


class ConflictError(RecordError):
    """The same ticket, article and relation is already recorded with another category."""

    exit_code = 3

    def __init__(self, message: str, stored_category: str = "") -> None:
        super().__init__(message)
        self.stored_category = stored_category  # the category the ticket already has


class DatabaseUnavailableError(RecordError):
    """The records database cannot be reached or is not set up."""

    exit_code = 4
