"""Run bookkeeping: run ids, the one-writer lock on a warehouse, and clean-up of abandoned runs.

A run is `running` from its first write until `published` (or `failed`). Whatever a run that
never reached `published` wrote to the warehouse is rolled back before the next run starts,
so a run killed at any stage (even by SIGKILL) leaves nothing a later run can double count.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from warehouse.connection import FEED_TABLES, table_exists, transaction

PIPELINE_OUTPUTS = (
    "forecasts",
    "forecast_accuracy",
    "suggestions",
    "alerts",
    "transfers",
    "dealer_kpis",
)


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse."""


def new_run_id(as_of: date | None = None, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{as_of.isoformat()}" if as_of else stamp


@contextmanager
def warehouse_lock(warehouse: Path) -> Iterator[Path]:
    """Hold an exclusive lock beside the warehouse file for the length of a run.

    The lock is an advisory `flock` that the kernel drops when the process dies, so a killed
    run never leaves a stale lock behind. A second run exits at once with a clear message.
    """
    lock_path = Path(str(warehouse) + ".run-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WarehouseBusy(
                f"warehouse {warehouse} is in use by another run ({holder}); "
                "only one run may write to a warehouse at a time"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "since": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        )
        handle.flush()
        yield lock_path
    finally:
        handle.close()


def rollback_unpublished(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Remove every row written by runs that never published; return their run ids."""
    run_ids = [
        r[0]
        for r in con.execute(
            "select run_id from pipeline.runs where status in ('running', 'failed')"
        ).fetchall()
    ]
    # Rows whose run never got a runs row at all (killed before it was written) go too.
    orphan_sql = " union ".join(
        f"select distinct run_id from raw.{t}" for t in (*FEED_TABLES, "file_ledger", "quarantine")
    )
    orphans = [
        r[0]
        for r in con.execute(
            f"select run_id from ({orphan_sql}) where run_id is not null "
            "and run_id not in (select run_id from pipeline.runs)"
        ).fetchall()
    ]
    stale = sorted(set(run_ids) | set(orphans))
    if not stale:
        return []
    with transaction(con):
        for table in (*FEED_TABLES, "file_ledger", "quarantine"):
            con.execute(f"delete from raw.{table} where run_id in (select unnest(?))", [stale])
        for table in PIPELINE_OUTPUTS:
            if table_exists(con, "pipeline", table):
                con.execute(
                    f"delete from pipeline.{table} where run_id in (select unnest(?))", [stale]
                )
        con.execute(
            "delete from pipeline.stage_timings where run_id in (select unnest(?))", [stale]
        )
        con.execute("delete from pipeline.runs where run_id in (select unnest(?))", [stale])
    return stale


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
    for table in PIPELINE_OUTPUTS:
        if table_exists(con, "pipeline", table):
            con.execute(
                f"delete from pipeline.{table} where run_id in (select unnest(?))", [earlier]
            )
    con.execute(
        "update pipeline.runs set status = 'replaced' where run_id in (select unnest(?))",
        [earlier],
    )


def record_stage(
    con: duckdb.DuckDBPyConnection, run_id: str, stage: str, seconds: float, rows: int
) -> None:
    con.execute(
        "insert into pipeline.stage_timings values (?, ?, ?, ?)", [run_id, stage, seconds, rows]
    )
