"""The warehouse's identity: a marker table with the project's schema version.

`connect` opens a file read-write only after `check_marker` said it is a dealer-vmi warehouse
(or an empty new file), so `--warehouse` pointing at somebody else's DuckDB file, at random
bytes, or at a warehouse of a newer release is refused with one line and left untouched.

Versions: 1 is the layout of this release. A warehouse written before the marker existed
(it has ``pipeline.runs`` and ``raw.file_ledger`` but no marker) is version 0: the first
`connect` adds the marker, which is the whole migration from 0 to 1 (docs/operations.md).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.connection import ensure_tables, scalar, table_exists

PROJECT = "dealer-vmi"
SCHEMA_VERSION = 1
MARKER_SCHEMA, MARKER_TABLE = "pipeline", "warehouse_info"
MARKER_COLUMNS = "project VARCHAR, schema_version INTEGER, created_at TIMESTAMP"
# Tables that only a dealer-vmi warehouse of before the marker holds, both of them.
LEGACY_TABLES = (("pipeline", "runs"), ("raw", "file_ledger"))


class NotAWarehouse(ValueError):
    """The file is not a dealer-vmi warehouse this release may write: one line for the CLI."""


class WarehouseInUse(duckdb.IOException):
    """Another process holds the file's write lock (DuckDB's own): one line, worth a retry."""


def open_checked(path: Path) -> duckdb.DuckDBPyConnection:
    """Open ``path`` read-write if it is a new, empty or dealer-vmi warehouse, else refuse.

    Raises `NotAWarehouse` naming the file and the reason; the file is not changed then.
    Raises `WarehouseInUse` (a `duckdb.IOException`) while another process holds the file.
    """
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():  # another process holds it: transient, may be retried
            holder = re.search(r"\(PID \d+\)", str(exc))
            raise WarehouseInUse(
                f"warehouse {path} is in use by another process"
                + (f" {holder.group(0)}" if holder else "")
            ) from None
        raise NotAWarehouse(f"{path}: not a DuckDB database file ({_first_line(exc)})") from None
    except (duckdb.InvalidInputException, duckdb.SerializationException) as exc:
        raise NotAWarehouse(f"{path}: not a DuckDB database file ({_first_line(exc)})") from None
    try:
        check_marker(con, path)
    except BaseException:
        con.close()
        raise
    return con


def check_marker(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """The warehouse's schema version (0 for a pre-marker one); raises `NotAWarehouse`."""
    if table_exists(con, MARKER_SCHEMA, MARKER_TABLE):
        project, version = con.execute(
            f"select project, max(schema_version) from {MARKER_SCHEMA}.{MARKER_TABLE}"
            " group by project"
        ).fetchone() or (PROJECT, SCHEMA_VERSION)
        if project != PROJECT:
            raise NotAWarehouse(f"{path}: a warehouse of '{project}', not of {PROJECT}")
        if version > SCHEMA_VERSION:
            raise NotAWarehouse(
                f"{path}: written by a newer {PROJECT} (schema version {version}; this release "
                f"knows up to {SCHEMA_VERSION}): upgrade dealer-vmi to use it"
            )
        return int(version)
    tables = scalar(
        con,
        "select count(*) from information_schema.tables where table_catalog = current_database()",
    )
    if not tables:
        return SCHEMA_VERSION  # a new file: connect creates everything
    if all(table_exists(con, schema, table) for schema, table in LEGACY_TABLES):
        return 0
    example = scalar(
        con,
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_catalog = current_database() order by 1 limit 1",
    )
    raise NotAWarehouse(
        f"{path}: not a {PROJECT} warehouse (no {MARKER_SCHEMA}.{MARKER_TABLE} marker; it "
        f"holds {tables} other table(s), e.g. {example}); refusing to change it"
    )


def write_marker(con: duckdb.DuckDBPyConnection) -> None:
    """Record this release's schema version (the 0 -> 1 migration is this row)."""
    ensure_tables(con, MARKER_SCHEMA, {MARKER_TABLE: MARKER_COLUMNS})
    present = scalar(
        con,
        f"select count(*) from {MARKER_SCHEMA}.{MARKER_TABLE} where schema_version = ?",
        [SCHEMA_VERSION],
    )
    if not present:
        con.execute(
            f"insert into {MARKER_SCHEMA}.{MARKER_TABLE} values (?, ?, ?)",
            [PROJECT, SCHEMA_VERSION, datetime.now(UTC).replace(tzinfo=None)],
        )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
