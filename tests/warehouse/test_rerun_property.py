"""Property: however the runs of one as-of fail or die, the warehouse's published run of that
as-of is the run in its folder, and the published run is never damaged by a later run that does
not publish.

Running the Prefect flow hundreds of times is far too slow, so this drives the seam the flow is
made of, in the flow's order and with the flow's own functions: `warehouse.runs` (begin, as-of,
mark_published, mark failed), `warehouse.pipeline.store_outputs` in the tasks' transactions, a
per-run reporting table like dbt's, and `planner.run_folder.publish_run` for the folder. Faults
are injected between the steps and inside the folder swap (before parking the old folder,
between the two renames, before the old folder is removed) and inside the publish transaction.
A fault either raises (the flow marks the run `failed`) or kills the run (nothing more happens:
no `failed`, no clean-up, an open transaction is lost).

Checked after every run: the published rows equal the folder, except right after a run died
between its folder rename and its commit, when the earlier run must still be whole; checked
after every start (the recovery a real start does) and at the end: always equal.
tests/flows/test_rerun_safety.py does the same with the real flow for the end-to-end cases.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from landing.schema import raw_tables
from planner import run_folder
from replenishment.alerts import ALERT_COLUMNS
from replenishment.demand import ACCURACY_COLUMNS, FORECAST_COLUMNS
from replenishment.plan import TRANSFER_OUTPUT_COLUMNS
from replenishment.policy import SUGGESTION_COLUMNS
from warehouse import connect, ensure_tables, pipeline, runs, transaction

AS_OF = date(2026, 3, 2)
OTHER_AS_OF = date(2026, 3, 1)  # a bystander: published once, must never change
# Where a fault can hit a run, in the flow's order. "settle" is inside the recovery a start does
# (it hits only when there is a publish to finish); the last four are the publish window.
POINTS = (
    "settle",
    "ingest",
    "store_forecasts",
    "replenish",
    "reporting",
    "writing_folder",
    "park_old_folder",
    "rename_new_folder",
    "remove_old_folder",
    "folder_published",
    "commit",
)
# Dying here leaves the new folder in place before the warehouse commit: the next start fixes it.
WINDOW = {"remove_old_folder", "folder_published", "commit"}


class Killed(BaseException):
    """SIGKILL: not an Exception, so nothing in the run handles it."""


class Faults:
    """One armed fault per run; once a run is killed its file operations do nothing."""

    def __init__(self) -> None:
        self.armed: tuple[str, str] | None = None
        self.fired: str | None = None
        self.dead = False
        self.phase = ""

    def arm(self, fault: tuple[str, str] | None) -> None:
        self.armed, self.fired, self.dead, self.phase = fault, None, False, "begin"

    def hit(self, point: str) -> None:
        if self.armed is None or self.armed[0] != point or self.fired:
            return
        self.fired = point
        if self.armed[1] == "kill":
            self.dead = True
            raise Killed(point)
        raise OSError(f"injected fault at {point}")


def frame(columns: list[str], run_no: int, run_id: str, as_of: date) -> pd.DataFrame:
    """Two rows whose numbers are the run's number: runs differ in every number."""
    rows = []
    for i, dealer in enumerate(("D1", "D2")):
        row = {}
        for column in columns:
            kind = pipeline.sql_type(column)
            if column == "run_id":
                row[column] = run_id
            elif column == "as_of":
                row[column] = as_of
            elif column == "week_start":
                row[column] = as_of + timedelta(days=7 * i)
            elif column in ("dealer_id", "from_dealer_id"):
                row[column] = dealer
            elif kind == "VARCHAR":
                row[column] = f"{column}-{run_no}"
            elif kind in ("INTEGER", "BIGINT"):
                row[column] = run_no
            else:
                row[column] = float(run_no) + i / 4
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def outputs(run_no: int, run_id: str, as_of: date) -> dict[str, pd.DataFrame]:
    return {
        "suggestions": frame(SUGGESTION_COLUMNS, run_no, run_id, as_of),
        "alerts": frame(ALERT_COLUMNS, run_no, run_id, as_of),
        "transfers": frame(TRANSFER_OUTPUT_COLUMNS, run_no, run_id, as_of),
        "forecast": frame(FORECAST_COLUMNS, run_no, run_id, as_of),
        "forecast_accuracy": frame(ACCURACY_COLUMNS, run_no, run_id, as_of),
    }


def run_once(wh: Path, out: Path, as_of: date, run_no: int, faults: Faults, check) -> str:
    """One nightly run at the seam; returns published, failed or killed."""
    run_id = f"run{run_no:03d}-{as_of}"
    frames = outputs(run_no, run_id, as_of)
    stages = [{"name": "forecast", "seconds": float(run_no), "rows": 2}]
    con = connect(wh)
    try:
        runs.begin_run(con, run_id, out, run_folder)  # begin_run task
        check(con, after_start=True)
        faults.phase = "run"
        con.execute(  # ingest_and_validate: raw rows, committed file by file
            "insert into raw.sell_through (dealer_id, sku, date, qty_sold, run_id) "
            "values ('D1', 'S1', ?, 1, ?)",
            [as_of, run_id],
        )
        faults.hit("ingest")
        runs.set_run_as_of(con, run_id, as_of)  # resolve_as_of
        with transaction(con):  # store_forecasts
            forecasts = frames["forecast"].assign(run_id=run_id)
            pipeline.store_outputs(
                con, {"forecasts": forecasts, "forecast_accuracy": frames["forecast_accuracy"]}
            )
            faults.hit("store_forecasts")
        with transaction(con):  # replenish
            tables = ("suggestions", "alerts", "transfers")
            pipeline.store_outputs(con, {name: frames[name] for name in tables})
            faults.hit("replenish")
        # dbt_build("reporting"): rpt_dealer_kpis gains this run's rows (delete+insert)
        con.execute("delete from reporting.rpt_dealer_kpis where run_id = ?", [run_id])
        con.execute(
            "insert into reporting.rpt_dealer_kpis values (?, 'D1', ?), (?, 'D2', ?)",
            [run_id, run_no, run_id, run_no],
        )
        faults.hit("reporting")
        faults.phase = "publish"  # publish task: the folder, then one transaction
        folder_tables = {k: v for k, v in frames.items() if k != "forecast_accuracy"}
        summary = {"run_id": run_id, "as_of": as_of.isoformat(), "stages": stages}
        run_folder.publish_run(
            out,
            as_of,
            run_id,
            folder_tables,
            summary,
            finish=lambda temp: faults.hit("writing_folder"),
        )
        faults.hit("folder_published")
        runs.mark_published(con, run_id, as_of, stages)
        return "published"
    except Killed:
        return "killed"
    except Exception:
        runs.finish_run(con, run_id, "failed")  # mark_failed
        return "failed"
    finally:
        con.close()


def folder_rows(out: Path, as_of: date) -> dict | None:
    """What a reader of OUT/runs/<as_of>/ sees, or None when there is no folder."""
    folder = run_folder.run_dir(out, as_of)
    if not folder.is_dir():
        return None
    summary = run_folder.read_run_summary(folder)
    assert summary, f"half-written run folder {folder}"
    return {
        "run_id": summary["run_id"],
        "suggestions": keyed(run_folder.read_run_table(folder, "suggestions"), "suggested_qty"),
        "alerts": keyed(run_folder.read_run_table(folder, "alerts"), "metric"),
        "transfers": keyed(run_folder.read_run_table(folder, "transfers"), "qty"),
        "forecast": keyed(run_folder.read_run_table(folder, "forecast"), "yhat"),
    }


def keyed(rows: pd.DataFrame, value: str) -> list[tuple]:
    key = "from_dealer_id" if "from_dealer_id" in rows else "dealer_id"
    return sorted(zip(rows[key].astype(str), rows[value].astype(float), strict=True))


def published_rows(con: duckdb.DuckDBPyConnection, as_of: date) -> dict | None:
    """The warehouse's published run of `as_of` and its output rows, or None."""
    published = con.execute(
        "select run_id from pipeline.runs where as_of = ? and status = 'published'", [as_of]
    ).fetchall()
    assert len(published) <= 1, f"two published runs of {as_of}: {published}"
    if not published:
        return None
    run_id = published[0][0]
    assert runs.published_run(con, as_of) == run_id

    def select(table: str, key: str, value: str) -> list[tuple]:
        sql = f"select {key}, {value} from pipeline.{table} where run_id = ?"
        return sorted((str(k), float(v)) for k, v in con.execute(sql, [run_id]).fetchall())

    kpis = con.execute(
        "select count(*) from reporting.rpt_dealer_kpis where run_id = ?", [run_id]
    ).fetchall()[0][0]
    assert kpis == 2, f"the published run {run_id} lost its reporting rows"
    accuracy = con.execute(
        "select count(*) from pipeline.forecast_accuracy where run_id = ?", [run_id]
    ).fetchall()[0][0]
    assert accuracy == 2, f"the published run {run_id} lost its accuracy rows"
    return {
        "run_id": run_id,
        "suggestions": select("suggestions", "dealer_id", "suggested_qty"),
        "alerts": select("alerts", "dealer_id", "metric"),
        "transfers": select("transfers", "from_dealer_id", "qty"),
        "forecast": select("forecasts", "dealer_id", "yhat"),
    }


def assert_published_equals_folder(con: duckdb.DuckDBPyConnection, out: Path, as_of: date):
    assert published_rows(con, as_of) == folder_rows(out, as_of)


def file_faults(faults: Faults, out: Path) -> ExitStack:
    """Faults inside `planner.run_folder`'s folder swap; a killed run's file calls do nothing."""
    real_replace, real_rmtree = os.replace, shutil.rmtree
    runs_dir = run_folder.runs_root(out)

    def replace(src, dst):
        if Path(src).parent != runs_dir:
            return real_replace(src, dst)
        if faults.phase == "publish":
            name = Path(src).name
            faults.hit("rename_new_folder" if name.startswith(".tmp-") else "park_old_folder")
        return None if faults.dead else real_replace(src, dst)

    def rmtree(path, *args, **kwargs):
        if Path(path).parent != runs_dir:
            return real_rmtree(path, *args, **kwargs)
        if Path(path).name.startswith(".old-") and faults.phase == "publish":
            faults.hit("remove_old_folder")
        return None if faults.dead else real_rmtree(path, *args, **kwargs)

    real_finish = runs.finish_run

    def finish_run(con, run_id, status):
        real_finish(con, run_id, status)
        if status == "published":  # inside mark_published's transaction, before its commit
            faults.hit("commit" if faults.phase == "publish" else "settle")

    stack = ExitStack()
    stack.enter_context(mock.patch.object(run_folder.os, "replace", replace))
    stack.enter_context(mock.patch.object(run_folder.shutil, "rmtree", rmtree))
    stack.enter_context(mock.patch.object(runs, "finish_run", finish_run))
    return stack


fault = st.one_of(st.none(), st.tuples(st.sampled_from(POINTS), st.sampled_from(("raise", "kill"))))
# Every fault point, raised and killed, at least once in fixed sequences (a "settle" after a run
# that died in the publish window, where it fires), so the random sequences after them need not
# draw each of the 22 by luck.
EVERY_FAULT = (
    [("ingest", "raise"), ("store_forecasts", "kill"), ("replenish", "raise"),
     ("reporting", "kill"), ("writing_folder", "raise")],
    [("ingest", "kill"), ("store_forecasts", "raise"), ("replenish", "kill"),
     ("reporting", "raise"), ("writing_folder", "kill")],
    [None, ("park_old_folder", "raise"), ("rename_new_folder", "raise"),
     ("remove_old_folder", "raise"), ("folder_published", "raise")],
    [None, ("park_old_folder", "kill"), ("rename_new_folder", "kill"), ("commit", "raise"), None],
    [None, ("remove_old_folder", "kill"), ("settle", "raise"), ("folder_published", "kill"),
     ("settle", "kill")],
    [None, ("commit", "kill"), None],
)  # fmt: skip


def test_the_fixed_sequences_hit_every_fault_point_both_ways():
    hit = {planned for plan in EVERY_FAULT for planned in plan if planned}
    assert hit == {(point, how) for point in POINTS for how in ("raise", "kill")}


def with_every_fault(test):
    for plan in EVERY_FAULT:
        test = example(plan)(test)
    return test


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@with_every_fault
@given(st.lists(fault, min_size=1, max_size=5))
def test_published_rows_always_equal_the_run_folder(plan):
    with tempfile.TemporaryDirectory() as tmp:
        wh, out = Path(tmp) / "wh.duckdb", Path(tmp) / "out"
        with connect(wh) as con:
            ensure_tables(con, "raw", raw_tables())
            ensure_tables(
                con, "reporting", {"rpt_dealer_kpis": "run_id VARCHAR, dealer_id VARCHAR, x DOUBLE"}
            )
        faults = Faults()
        with file_faults(faults, out):
            faults.arm(None)
            assert run_once(wh, out, OTHER_AS_OF, 0, faults, lambda con, after_start: None) == (
                "published"
            )
            with connect(wh) as con:
                bystander = published_rows(con, OTHER_AS_OF)

            state = {"before": None}  # what is published before a run, once its start settled

            def check(con, after_start=False):
                # The recovery of a start always settles the as-of; the rest of the run then
                # must not change what is published unless it publishes.
                state["before"] = published_rows(con, AS_OF)
                assert state["before"] == folder_rows(out, AS_OF)
                assert published_rows(con, OTHER_AS_OF) == bystander

            for run_no, planned in enumerate(plan, start=1):
                faults.arm(planned)
                outcome = run_once(wh, out, AS_OF, run_no, faults, check)
                with duckdb.connect(str(wh)) as con:
                    before, after = state["before"], published_rows(con, AS_OF)
                    if outcome == "published":
                        assert after is not None and after["run_id"].startswith(f"run{run_no:03d}")
                        assert_published_equals_folder(con, out, AS_OF)
                    elif faults.fired in WINDOW | {"rename_new_folder", "settle"}:
                        # Died between the renames or before the commit (the earlier run is
                        # still whole in the warehouse; the folder is the new run's, or parked),
                        # or while the start settled such a run: the next start settles it.
                        assert after == before, faults.fired
                    else:
                        # Any other failure or death: nothing of the published run changed.
                        assert after == before, faults.fired
                        assert_published_equals_folder(con, out, AS_OF)
                state["before"] = after

            # The next start settles whatever the last run left.
            with connect(wh) as con:
                runs.rollback_unpublished(con, run_folder)
                assert_published_equals_folder(con, out, AS_OF)
                assert published_rows(con, OTHER_AS_OF) == bystander
                left = con.execute(
                    "select count(*) from pipeline.runs "
                    "where status in ('running', 'failed') and rolled_back_at is null"
                ).fetchall()[0][0]
                assert left == 0
