"""Importing resolutions from a CSV export: good rows are recorded, bad rows reported by line."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from kb.records.errors import InvalidRecordError, RecordError
from kb.records.store import RecordStore

REQUIRED_COLUMNS = ("ticket_id", "article", "category")
OPTIONAL_COLUMNS = ("relation", "ticket_system", "user", "note", "when", "ticket_opened", "subject")
MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class Rejected:
    """A row that was not recorded, with its line in the file and why."""

    line: int
    message: str


@dataclass
class ImportReport:
    """What an import did."""

    recorded: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def parse_time(text: str, name: str = "when") -> dt.datetime | None:
    """An ISO 8601 time from a CSV cell or an option; without a zone it is UTC."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRecordError(f"{name} {text!r} is not an ISO 8601 time (2026-11-01T09:30:00+08:00)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def import_resolutions(store: RecordStore, lines: Iterable[str], user: str = "") -> ImportReport:
    """Record every valid row (columns ticket_id, article, category; optional relation, ticket_system,
    user, note, when, ticket_opened, subject); rerunning a file is safe, since recording is idempotent."""
    reader = csv.DictReader(lines)
    columns = [c.strip() for c in reader.fieldnames or ()]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidRecordError(f"the CSV header lacks {', '.join(missing)}; it needs "
                                 f"{', '.join(REQUIRED_COLUMNS)} and may have {', '.join(OPTIONAL_COLUMNS)}")
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise InvalidRecordError(f"unknown CSV columns {', '.join(unknown)}; allowed: "
                                 f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}")
    report = ImportReport()
    for number, raw in enumerate(reader):
        line = reader.line_num
        if number >= MAX_ROWS:
            report.rejected.append(Rejected(line, f"more than {MAX_ROWS} rows: split the file"))
            break
        if None in raw:  # DictReader files surplus fields under the key None
            report.rejected.append(Rejected(line, "more fields than columns"))
            continue
        row = {k.strip(): v.strip() if isinstance(v, str) else "" for k, v in raw.items()}
        if not any(row.values()):
            continue  # a blank line is not a row
        try:
            record = store.record_resolution(
                article=row["article"], ticket_id=row["ticket_id"], category=row["category"],
                relation=row.get("relation") or "resolved", ticket_system=row.get("ticket_system") or None,
                user=row.get("user") or user, note=row.get("note") or "", source="import",
                when=parse_time(row.get("when") or ""),
                ticket_opened=parse_time(row.get("ticket_opened") or "", "ticket_opened"),
                subject=row.get("subject") or "")
        except RecordError as exc:
            report.rejected.append(Rejected(line, str(exc)))
            continue
        if record.created:
            report.recorded += 1
        else:
            report.duplicates += 1
    return report
