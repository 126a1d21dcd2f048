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

A failed run keeps its pipeline.runs row (stage, error class and message) once its rows are
rolled back; a run that failed before it could write that row (the warehouse locked or not a
warehouse, the landing share missing) is a line of `failed-runs.jsonl` beside the warehouse
file, which the next start copies into pipeline.runs.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import duckdb

from warehouse.connection import scalar, tables_with_column, transaction
from warehouse.pipeline import add_run_columns

# Schemas whose tables carry run_id: what a run wrote, and which of it are outputs.
RUN_SCHEMAS = ("raw", "pipeline", "reporting")
OUTPUT_SCHEMAS = ("pipeline", "reporting")
FAILED_RUNS_FILE = "failed-runs.jsonl"  # beside the warehouse file
MAX_MESSAGE_CHARS = 500
INTERRUPTED = ("Interrupted", "the run stopped without recording why (killed or machine down)")


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

    Runs marked `running` or `failed` and not rolled back yet, and rows whose run never got a
    runs row at all (killed before it was written), go from every table that carries a run_id.
    Their pipeline.runs rows stay as `failed` with `rolled_back_at` set (a `running` one was
    killed: error class `Interrupted`).

    Given `folders`, the run folders of those runs are settled first: what a killed publish
    left is cleaned up (`clean_leftovers` puts back an earlier run folder parked between the
    two renames), and a run whose folder was renamed into place before it died or failed (its
    run_id is in the summary of its as-of's folder) is published instead (`mark_published`):
    its folder is what readers already see, and its outputs were all stored before the rename.
    """
    marked = con.execute(
        "select run_id, as_of, out_dir from pipeline.runs "
        "where status in ('running', 'failed') and rolled_back_at is null"
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
            con.execute(
                "update pipeline.runs set status = 'failed', rolled_back_at = ?, "
                "error_class = if(status = 'running', coalesce(error_class, ?), error_class), "
                "error_message = if(status = 'running', coalesce(error_message, ?), error_message) "
                "where run_id in (select unnest(?))",
                [_now(), *INTERRUPTED, stale],
            )
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
    """Settle what earlier runs left (`rollback_unpublished`, after copying the runs of
    `failed-runs.jsonl` in), then register `run_id` as `running`; return the run ids rolled
    back."""
    add_run_columns(con)
    path = scalar(
        con, "select path from duckdb_databases() where database_name = current_database()"
    )
    if path:  # the warehouse file (none for an in-memory database)
        import_failed_runs(con, Path(path))
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


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, out_dir: Path) -> None:
    con.execute(
        "insert into pipeline.runs (run_id, status, started_at, out_dir) "
        "values (?, 'running', ?, ?)",
        [run_id, _now(), str(out_dir)],
    )


def set_run_as_of(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date) -> None:
    con.execute("update pipeline.runs set as_of = ? where run_id = ?", [as_of, run_id])


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str) -> None:
    con.execute(
        "update pipeline.runs set status = ?, finished_at = ? where run_id = ?",
        [status, _now(), run_id],
    )


# -- failed runs --------------------------------------------------------------------------------
FAILURE_FIELDS = ("failed_stage", "error_class", "error_message")


def failure_record(
    run_id: str,
    *,
    warehouse: Path,
    out_dir: Path,
    as_of: date | None,
    stage: str | None,
    error: BaseException,
    started_at: datetime | None = None,
) -> dict:
    """What is kept of a failed run: where it stopped and why, in one line."""
    message = " ".join(str(error).split()) or repr(error)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3] + "..."
    return {
        "run_id": run_id,
        "status": "failed",
        "as_of": as_of.isoformat() if as_of else None,
        "started_at": (started_at or _now()).isoformat(),
        "finished_at": _now().isoformat(),
        "out_dir": str(out_dir),
        "failed_stage": stage,
        "error_class": type(error).__name__,
        "error_message": message,
        "warehouse": str(Path(warehouse).resolve()),
    }


def fail_run(con: duckdb.DuckDBPyConnection, record: dict) -> bool:
    """Mark the run of `record` failed with its stage and error; False when it has no row."""
    found = con.execute(
        "update pipeline.runs set status = 'failed', finished_at = ?, failed_stage = ?, "
        "error_class = ?, error_message = ? where run_id = ? returning run_id",
        [_now(), *(record[field] for field in FAILURE_FIELDS), record["run_id"]],
    ).fetchall()
    return bool(found)


def record_failure(record: dict, *, has_row: bool) -> None:
    """Mark the run failed in its pipeline.runs row when it `has_row` (it holds the lock), else
    (or if that fails) append it to failed-runs.jsonl; best effort, never raises."""
    from warehouse import connect  # the package's connect: schemas, marker check

    if has_row:
        with suppress(Exception), connect(record["warehouse"]) as con:
            if fail_run(con, record):
                return
    with suppress(OSError):
        append_failed_run(record)


def failed_runs_file(warehouse: Path) -> Path:
    return Path(warehouse).resolve().parent / FAILED_RUNS_FILE


def append_failed_run(record: dict) -> Path:
    """Append `record` as one JSON line to failed-runs.jsonl beside its warehouse file."""
    path = failed_runs_file(Path(record["warehouse"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as lines:
        lines.write(json.dumps(record) + "\n")
    return path


def import_failed_runs(con: duckdb.DuckDBPyConnection, warehouse: Path) -> int:
    """Copy the runs failed-runs.jsonl holds for this warehouse into pipeline.runs (once each;
    a run left `running` gets its recorded failure); return how many lines were read."""
    path = failed_runs_file(warehouse)
    if not path.is_file():
        return 0
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if isinstance(record, dict) and record.get("warehouse") == str(Path(warehouse).resolve()):
            records.append(record)
    columns = ("run_id", "as_of", "started_at", "finished_at", "out_dir", *FAILURE_FIELDS)
    for record in records:
        con.execute(
            f"insert into pipeline.runs (status, {', '.join(columns)}) "
            f"values ('failed', {', '.join('?' for _ in columns)}) "
            "on conflict (run_id) do update set status = 'failed', "
            "finished_at = excluded.finished_at, failed_stage = excluded.failed_stage, "
            "error_class = excluded.error_class, error_message = excluded.error_message "
            "where pipeline.runs.status = 'running'",
            [record.get(column) for column in columns],
        )
    return len(records)


def failed_since_published(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The failed runs that started after the newest published run, oldest first."""
    rows = con.execute(
        "select run_id, cast(as_of as varchar), strftime(started_at, '%Y-%m-%d %H:%M:%S'), "
        "failed_stage, error_class, error_message "
        "from pipeline.runs where status = 'failed' and started_at > coalesce("
        "(select max(started_at) from pipeline.runs where status = 'published'), "
        "timestamp '1970-01-01') order by started_at, run_id"
    ).fetchall()
    keys = ("run_id", "as_of", "started_at", *FAILURE_FIELDS)
    return [dict(zip(keys, row, strict=True)) for row in rows]


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


def resolved_as_of(warehouse: str | Path | None, started: datetime | None) -> str | None:
    """The as-of (ISO) that the newest run started at or after `started` had resolved, read
    from a warehouse file; None when unknown. Best effort for a failure notice: read-only, and
    given up at once if another process holds the file."""
    if not warehouse or started is None or not Path(warehouse).is_file():
        return None
    from warehouse import connect

    try:
        with connect(warehouse, read_only=True) as con:
            as_of = as_of_of_run_started_since(con, started.astimezone(UTC).replace(tzinfo=None))
    except Exception:
        return None
    return as_of.isoformat() if as_of else None


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
