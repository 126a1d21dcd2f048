"""Raw loads: the SQL behind landing's per-file decisions (ledger, rows, quarantine, loading).

landing/ decides what a file's rows are worth; this module only writes them. Table names come from
the feed schema (fixed identifiers, never feed data); every value travels as a bound parameter or
a registered DataFrame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date

import duckdb
import pandas as pd

from warehouse.connection import scalar, table_exists

INGESTED = ("accepted", "partial")


@contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: str | None) -> Iterator[None]:
    """Cap DuckDB's memory for the block, then restore the connection's setting.

    DuckDB's default (80 % of RAM) lets its buffer cache and the duplicate-key query of a large
    file grow with the file; under a cap it spills to its temp folder instead.
    """
    if not limit:
        yield
        return
    before = scalar(con, "select current_setting('memory_limit')")
    # Both values are ours (a constant and DuckDB's own setting), never feed data.
    con.execute(f"set memory_limit = '{limit}'")
    try:
        yield
    finally:
        con.execute(f"set memory_limit = '{before}'")


def newest_feed_date(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest sell-through date or inventory snapshot date in raw (the default as-of)."""
    if not (table_exists(con, "raw", "sell_through") and table_exists(con, "raw", "inventory")):
        return None
    return scalar(
        con,
        """select greatest(
               (select max(date) from raw.sell_through),
               (select max(snapshot_date) from raw.inventory))""",
    )


def latest_master_ids(con: duckdb.DuckDBPyConnection, table: str, column: str) -> set[str] | None:
    """Ids of the latest master delivery (each accepted master file replaces the previous)."""
    latest = scalar(con, f"select max(delivery_seq) from raw.{table}")
    if latest is None:
        return None
    rows = con.execute(
        f"select distinct {column} from raw.{table} where delivery_seq = ?", [latest]
    ).fetchall()
    return {row[0] for row in rows}


def insert_with_lineage(
    con: duckdb.DuckDBPyConnection, target: str, rows: pd.DataFrame, lineage: pd.DataFrame
) -> None:
    """Append rows of many files to `target`, each joined to its file's lineage on `_file`.

    The per-file columns (hash, name, delivery, run) travel once per file, not once per row.
    """
    if rows.empty:
        return
    lineage = lineage.astype({"_file": "int64", "delivery_seq": "Int64"})
    con.register("incoming_rows", rows)
    con.register("incoming_lineage", lineage)
    try:
        con.execute(
            f"insert into {target} by name "
            "select r.* exclude (_file), l.* exclude (_file) "
            "from incoming_rows r join incoming_lineage l on r._file = l._file"
        )
    finally:
        con.unregister("incoming_rows")
        con.unregister("incoming_lineage")


def ingested_contents(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """sha256 -> (source_file, run_id) of every accepted or partial delivery: one query per
    ingest instead of one per file."""
    if not table_exists(con, "raw", "file_ledger"):
        return {}
    rows = con.execute(
        "select file_sha256, source_file, run_id from raw.file_ledger where status in (?, ?)",
        list(INGESTED),
    ).fetchall()
    return {sha: (source, run_id) for sha, source, run_id in rows}


def next_delivery_seq(con: duckdb.DuckDBPyConnection) -> int:
    return int(scalar(con, "select coalesce(max(delivery_seq), 0) + 1 from raw.file_ledger"))


def insert_frame(con: duckdb.DuckDBPyConnection, target: str, frame: pd.DataFrame) -> None:
    """Append a DataFrame to `target` by column name (a fixed table name of ours)."""
    if frame.empty:
        return
    con.register("incoming_frame", frame)
    try:
        con.execute(f"insert into {target} by name select * from incoming_frame")
    finally:
        con.unregister("incoming_frame")


def write_ledger_rows(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """Ledger rows in one statement: one row per content hash, so a rejected content delivered
    again replaces its earlier row (a hash occurs at most once in `rows`)."""
    if not rows:
        return
    frame = pd.DataFrame(rows)
    frame["delivery_seq"] = frame["delivery_seq"].astype("Int64")  # None stays NULL
    con.register("incoming_ledger", frame)
    try:
        con.execute(
            f"insert or replace into raw.file_ledger ({', '.join(frame.columns)}) "
            f"select {', '.join(frame.columns)} from incoming_ledger"
        )
    finally:
        con.unregister("incoming_ledger")


def open_loading_tables(con: duckdb.DuckDBPyConnection, feed: str) -> tuple[str, str]:
    """Empty loading tables shaped like raw.<feed> and raw.quarantine (replacing leftovers)."""
    loading, loading_quarantine = f"raw._loading_{feed}", "raw._loading_quarantine"
    con.execute(f"create or replace table {loading} as select * from raw.{feed} limit 0")
    con.execute(
        f"create or replace table {loading_quarantine} as select * from raw.quarantine limit 0"
    )
    return loading, loading_quarantine


def drop_loading_tables(con: duckdb.DuckDBPyConnection, *names: str, quiet: bool = False) -> None:
    try:
        for name in names:
            con.execute(f"drop table if exists {name}")
    except Exception:
        if not quiet:
            raise  # on the error path the original exception matters more


def take_duplicate_keys(
    con: duckdb.DuckDBPyConnection, loading: str, keys: Sequence[str], columns: Sequence[str]
) -> pd.DataFrame:
    """Remove from `loading` every row whose key occurs more than once; return them (line first).

    A grouped count, not a window over every row: DuckDB can spill it to disk.
    """
    key_sql = ", ".join(f'"{name}"' for name in keys)
    columns_sql = ", ".join(f'"{name}"' for name in columns)
    duplicated = con.execute(
        f"""with repeated as (
                select {key_sql} from {loading} group by {key_sql} having count(*) > 1
            )
            select line, {columns_sql} from {loading} semi join repeated using ({key_sql})
            order by line"""
    ).df()
    if not duplicated.empty:
        con.execute(
            f"delete from {loading} where line in (select unnest(?::integer[]))",
            [duplicated["line"].astype(int).tolist()],
        )
    return duplicated


def publish_loading(
    con: duckdb.DuckDBPyConnection,
    feed: str,
    loading: str,
    loading_quarantine: str,
    delivery_seq: int | None,
) -> None:
    """Copy a fully loaded file from its loading tables into raw.<feed> and raw.quarantine."""
    con.execute(
        f"insert into raw.{feed} by name "
        f"select * replace (?::bigint as delivery_seq) from {loading}",
        [delivery_seq],
    )
    con.execute(f"insert into raw.quarantine by name select * from {loading_quarantine}")
