"""Run lifecycle (write-audit-publish): run ids and rows, stage timings, rollback of runs.

A run is `running` from its first write until `published` (or `failed`). It writes its outputs
under its own run_id and touches no other run's rows; only `mark_published`, one transaction
after its folder was renamed into place, replaces the earlier run of its as-of. Whatever a run
that never reached `published` wrote is rolled back before the next run starts, so a run
killed at any stage (even by SIGKILL) leaves nothing a later run can double count, and a
failed or killed rerun leaves the published run of its as-of whole. A run cut short between
its folder rename and that transaction is published by the next start instead (its folder is
already the one readers see), so the warehouse's published run of an as-of is the run in its
folder, at the latest once the next run has started.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import duckdb

from warehouse.connection import scalar, tables_with_column, transaction

# Schemas whose tables carry run_id: what a run wrote, and which of it are outputs.
RUN_SCHEMAS = ("raw", "pipeline", "reporting")
OUTPUT_SCHEMAS = ("pipeline", "reporting")


def new_run_id(as_of: date | None = None, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{as_of.isoformat()}" if as_of else stamp


class RunFolders(Protocol):
    """What settling unfinished runs needs of the run-folder contract (`planner.run_folder`
    is one: the warehouse cannot import planner)."""

    def runs_root(self, out_dir: Path) -> Path: ...

    def run_dir(self, out_dir: Path, as_of: date) -> Path: ...

    def read_run_summary(self, folder: Path) -> dict: ...

    def clean_leftovers(self, folder: Path) -> None: ...


def rollback_unpublished(
    con: duckdb.DuckDBPyConnection, folders: RunFolders | None = None
) -> list[str]:
    """Remove every row written by runs that never published; return their run ids.

    Runs marked `running` or `failed`, and rows whose run never got a runs row at all (killed
    before it was written), go from every table that carries a run_id.

    Given `folders`, the run folders of those runs are settled first: what a killed publish
    left is cleaned up (`clean_leftovers` puts back an earlier run folder parked between the
    two renames), and a run whose folder was renamed into place before it died or failed (its
    run_id is in the summary of its as-of's folder) is published instead (`mark_published`):
    its folder is what readers already see, and its outputs were all stored before the rename.
    """
    marked = con.execute(
        "select run_id, as_of, out_dir from pipeline.runs where status in ('running', 'failed')"
    ).fetchall()
    finished: set[str] = set()
    for run_id, as_of, out_dir in marked if folders is not None else ():
        summary = _folder_summary(folders, out_dir, as_of)
        if summary.get("run_id") == run_id:
            mark_published(con, run_id, as_of, summary.get("stages") or [])
            finished.add(run_id)
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
    stale = sorted({r[0] for r in marked} - finished | set(orphans))
    if stale:
        with transaction(con):
            delete_run_rows(con, stale, RUN_SCHEMAS)
            con.execute("delete from pipeline.runs where run_id in (select unnest(?))", [stale])
    return stale


def _folder_summary(folders: RunFolders, out_dir: str | None, as_of: date | None) -> dict:
    """The summary in the folder a run would have published, once leftovers are cleaned.

    {} when there is none, or when it is not valid JSON (no run's summary: the run is rolled
    back). A folder that cannot be read raises (OSError): no run rather than a good run lost.
    """
    if not out_dir or as_of is None:
        return {}
    root = folders.runs_root(Path(out_dir))
    if root.is_dir():
        folders.clean_leftovers(root)
    try:
        summary = folders.read_run_summary(folders.run_dir(Path(out_dir), as_of))
    except ValueError:
        return {}
    return summary if isinstance(summary, dict) else {}


def begin_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    out_dir: Path,
    folders: RunFolders | None = None,
) -> list[str]:
    """Settle what earlier runs left (`rollback_unpublished`), then register `run_id` as
    `running`; return the run ids rolled back."""
    cleaned = rollback_unpublished(con, folders)
    start_run(con, run_id, out_dir)
    return cleaned


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
    """The earlier published run of `as_of` loses its outputs and becomes `replaced` (its raw
    feeds stay). Only `mark_published` calls it, inside its transaction."""
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


def mark_published(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, stages: list[dict]
) -> None:
    """The warehouse half of publish, in one transaction: the earlier published run of `as_of`
    is replaced, this run's stage timings are stored and it becomes `published`.

    Call it only once the run folder is renamed into place: until it commits, the warehouse's
    published run of `as_of` is the earlier one, whose folder readers saw until the rename.
    """
    with transaction(con):
        replace_earlier_outputs(con, run_id, as_of)
        record_stages(con, run_id, stages)
        finish_run(con, run_id, "published")


def published_run(con: duckdb.DuckDBPyConnection, as_of: date) -> str | None:
    """The run_id of the published run of `as_of` (the one in its run folder), or None."""
    return scalar(
        con,
        "select run_id from pipeline.runs where as_of = ? and status = 'published' "
        "order by started_at desc limit 1",
        [as_of],
    )


def unwritable(root: Path, below: Path | None = None) -> Path | None:
    """The first folder that would stop a run from publishing, or None (checked before work).

    `root` (the runs folder) must be a writable folder, or its nearest existing parent must be
    (it will be created). `below` (the run folder a rerun replaces), when it exists, must be
    writable with every folder in it: the old run folder is removed once the new one is in.
    """
    path = Path(root)
    while not path.exists() and path.parent != path:
        path = path.parent
    folders = [path]
    if below is not None and Path(below).is_dir():
        folders += [Path(folder) for folder, _, _ in os.walk(below)]
    for folder in folders:
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            return folder
    return None


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
