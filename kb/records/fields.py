"""Allowed values of record fields, importable without SQLAlchemy (the CLI declares its options with them)."""

from __future__ import annotations

RELATIONS = ("resolved", "referenced", "created_from")
SOURCES = ("web", "api", "cli", "import")
FLAG_STATUSES = ("open", "done")
