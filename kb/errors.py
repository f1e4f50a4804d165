"""The errors kb raises and the problems it reports about articles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class KbError(Exception):
    """Base of every error kb raises on purpose; the message says what to do."""

    exit_code = 1


class ConfigError(KbError):
    """A setting has a value kb cannot use."""

    exit_code = 2


class InputError(KbError):
    """An argument names something that does not exist (an unknown category, say); like a usage error."""

    exit_code = 2


class VocabularyError(KbError):
    """The vocabulary under articles/_kb/ is broken, so nothing can be checked against it."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one file, at a line where the fault has one."""

    path: str
    line: int
    col: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity.value}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(path: str, message: str, line: int = 1, col: int = 1) -> Problem:
    """An error-level problem."""
    return Problem(path, max(line, 1), max(col, 1), Severity.ERROR, message)


def warning(path: str, message: str, line: int = 1, col: int = 1) -> Problem:
    """A warning-level problem."""
    return Problem(path, max(line, 1), max(col, 1), Severity.WARNING, message)
