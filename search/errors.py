"""Errors the search package raises; the CLI and the web layer translate them."""

from __future__ import annotations

from collections.abc import Sequence

from kb.errors import KbError, Problem


class SearchError(KbError):
    """Base of search errors."""


class QueryError(SearchError):
    """The query cannot be run as written; the message says how to rewrite it."""

    exit_code = 2


class IndexMissingError(SearchError):
    """There is no index yet (or it cannot be opened); run `kb build`."""

    exit_code = 3


class BuildError(SearchError):
    """A build could not produce an index; the live index is untouched."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)  # what loading found, for the caller to report


class BuildLockedError(BuildError):
    """Another build holds the lock."""

    exit_code = 75  # EX_TEMPFAIL: try again later
