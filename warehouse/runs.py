"""Run lifecycle (write-audit-publish): run ids and rows, stage timings, rollback of runs.

A run is `running` from its first write until `published` (or `failed`). Whatever a run that
never reached `published` wrote to the warehouse is rolled back before the next run starts,
so a run killed at any stage (even by SIGKILL) leaves nothing a later run can double count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from warehouse.connection import scalar, tables_with_column, transaction

# Schemas whose tables carry run_id: what a run wrote, and which of it are outputs.
RUN_SCHEMAS = ("raw", "pipeline", "reporting")
OUTPUT_SCHEMAS = ("pipeline", "reporting")


def new_run_id(as_of: date | None = None, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{as_of.isoformat()}" if as_of else stamp


def rollback_unpublished(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Remove every row written by runs that never published; return their run ids.

    Runs marked `running` or `failed`, and rows whose run never got a runs row at all (killed
    before it was written), go from every table that carries a run_id.
    """
    marked = [
        r[0]
        for r in con.execute(
            "select run_id from pipeline.runs where status in ('running', 'failed')"
        ).fetchall()
    ]
    raw_tables = tables_with_column(con, "run_id", ("raw",))
    orphans: list[str] = []
    if raw_tables:
        orphan_sql = " union ".join(f"select distinct run_id from {t}" for t in raw_tables)
        orphans = [
            r[0]
            for r in con.execute(
                f"select run_id from ({orphan_sql}) where run_id is not null "
                "and run_id not in (select run_id from pipeline.runs)"
            ).fetchall()
        ]
    stale = sorted(set(marked) | set(orphans))
    if stale:
        with transaction(con):
            delete_run_rows(con, stale, RUN_SCHEMAS)
            con.execute("delete from pipeline.runs where run_id in (select unnest(?))", [stale])
    return stale


def rollback_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Undo what one run wrote so far (a retried ingest starts from a clean slate).

    Its pipeline.runs row stays: the run is still going.
    """
    with transaction(con):
        delete_run_rows(con, [run_id], RUN_SCHEMAS)


def delete_run_rows(
    con: duckdb.DuckDBPyConnection, run_ids: list[str], schemas: tuple[str, ...]
) -> None:
    """Delete the rows of `run_ids` from every base table in `schemas` with a run_id column.

    The one rollback: raw feeds, ledger, quarantine, loading tables, pipeline outputs, stage
    timings and the per-run tables dbt keeps (reporting.rpt_dealer_kpis). pipeline.runs is left
    to the caller. Tables are found in the catalog, so a table added later is covered too.
    """
    for table in tables_with_column(con, "run_id", schemas):
        if table != "pipeline.runs":
            con.execute(f"delete from {table} where run_id in (select unnest(?))", [run_ids])


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, out_dir: Path) -> None:
    con.execute(
        "insert into pipeline.runs values (?, null, 'running', ?, null, ?)",
        [run_id, datetime.now(UTC).replace(tzinfo=None), str(out_dir)],
    )


def set_run_as_of(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date) -> None:
    con.execute("update pipeline.runs set as_of = ? where run_id = ?", [as_of, run_id])


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str) -> None:
    con.execute(
        "update pipeline.runs set status = ?, finished_at = ? where run_id = ?",
        [status, datetime.now(UTC).replace(tzinfo=None), run_id],
    )


def replace_earlier_outputs(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date) -> None:
    """A rerun of an as-of replaces that as-of's earlier outputs (the raw feeds stay)."""
    earlier = [
        r[0]
        for r in con.execute(
            "select run_id from pipeline.runs where as_of = ? and run_id <> ? "
            "and status = 'published'",
            [as_of, run_id],
        ).fetchall()
    ]
    if not earlier:
        return
    # The raw feeds of the earlier run stay: they are data, not outputs.
    delete_run_rows(con, earlier, OUTPUT_SCHEMAS)
    con.execute(
        "update pipeline.runs set status = 'replaced' where run_id in (select unnest(?))",
        [earlier],
    )


def as_of_of_run_started_since(con: duckdb.DuckDBPyConnection, started: datetime) -> date | None:
    """The as-of resolved by the newest run that started at or after `started` (UTC, naive)."""
    return scalar(
        con,
        "select as_of from pipeline.runs where started_at >= ? and as_of is not null "
        "order by started_at desc limit 1",
        [started],
    )


def record_stages(con: duckdb.DuckDBPyConnection, run_id: str, stages: list[dict]) -> None:
    """Store a run's stage timings (`name, seconds, rows` per stage)."""
    for stage in stages:
        record_stage(con, run_id, stage["name"], stage["seconds"], stage["rows"])


def record_stage(
    con: duckdb.DuckDBPyConnection, run_id: str, stage: str, seconds: float, rows: int
) -> None:
    con.execute(
        "insert into pipeline.stage_timings values (?, ?, ?, ?)", [run_id, stage, seconds, rows]
    )
