"""Backup and restore of every records table as JSON lines (`kb export`, `kb import`).

One line per row: `{"table": name, "row": {column: value}}`, tables in dependency order,
rows by id; timestamps as ISO 8601 UTC. The first line names the format and the schema
revision. An import goes into an empty database, keeps ids, and moves PostgreSQL's id
sequences past them, so exporting again gives the same lines.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any, TextIO

from sqlalchemy import Table, func, insert, select, text

from kb.records.db import Database
from kb.records.errors import InvalidRecordError
from kb.records.migrate import current_revision
from kb.records.models import Base, UtcDateTime

FORMAT = "kb-records"
VERSION = 1
BATCH = 1000


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value


def export_records(db: Database, out: TextIO) -> dict[str, int]:
    """Write a header line and every row of every records table; returns rows per table."""
    db.ensure_schema()
    counts: dict[str, int] = {}
    header = {"format": FORMAT, "version": VERSION, "revision": current_revision(db),
              "tables": [t.name for t in _tables()]}
    out.write(json.dumps(header) + "\n")
    with db.connect() as conn:
        for table in _tables():
            counts[table.name] = 0
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            for row in rows.mappings():
                line = {"table": table.name, "row": {k: _encode(v) for k, v in row.items()}}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                counts[table.name] += 1
    return counts


def _decode(table: Table, row: dict[str, Any], number: int) -> dict[str, Any]:
    columns = table.columns
    unknown = set(row) - set(columns.keys())
    if unknown:
        raise InvalidRecordError(f"line {number}: {table.name} has no column(s) {', '.join(sorted(unknown))}; "
                                 "was the export made by a newer kb?")
    decoded = {}
    for name, value in row.items():
        if isinstance(columns[name].type, UtcDateTime) and value is not None:
            try:
                value = dt.datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise InvalidRecordError(f"line {number}: {table.name}.{name} is not a timestamp: {value!r}") from None
        decoded[name] = value
    return decoded


def _lines(source: Iterable[str]) -> Iterable[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise InvalidRecordError(f"line {number} is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidRecordError(f"line {number} is not a JSON object")
        yield number, data


def import_records(db: Database, source: Iterable[str]) -> dict[str, int]:
    """Load `export_records` output into an empty, migrated database, in one transaction."""
    db.upgrade()
    tables = {t.name: t for t in _tables()}
    counts = dict.fromkeys(tables, 0)
    lines = iter(_lines(source))
    first = next(lines, None)
    if first is None or first[1].get("format") != FORMAT:
        raise InvalidRecordError("the first line is not a `kb export` header; is this a kb records export?")
    if first[1].get("version") != VERSION:
        raise InvalidRecordError(f"export format version {first[1].get('version')!r} is not {VERSION}")
    with db.connect(write=True) as conn:
        for table in tables.values():
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise InvalidRecordError(f"the database already holds {table.name}; import into an empty database "
                                         f"({db.safe_url()})")
        pending: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        for number, data in lines:
            name = str(data.get("table"))
            row = data.get("row")
            if name not in tables or not isinstance(row, dict):
                raise InvalidRecordError(f"line {number}: unknown table {data.get('table')!r} or no row")
            pending[name].append(_decode(tables[name], row, number))
            counts[name] += 1
            if len(pending[name]) >= BATCH:
                _flush(conn, tables, pending)
        _flush(conn, tables, pending)
        if conn.dialect.name == "postgresql":
            for table in tables.values():
                # Ids were given explicitly, so the sequences must move past them.
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                  f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
    return counts


def _flush(conn: Any, tables: dict[str, Table], pending: dict[str, list[dict[str, Any]]]) -> None:
    # In dependency order, so feedback rows find the search_log rows they point at.
    for name, table in tables.items():
        if pending[name]:
            conn.execute(insert(table), pending[name])
            pending[name] = []
