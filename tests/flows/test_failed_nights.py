"""Failed nights are kept: a row in pipeline.runs with the stage, error class and message (or a
line of failed-runs.jsonl when the run never got that far), listed in the next report and in
rpt_run_history. A missing landing share is retried, and a share that comes back in time is
ingested.

One warehouse, four real nights in a row (real Prefect API, real dbt, real DuckDB):
dbt fails in its stage; the warehouse is locked by another run; the landing share is gone for
good; the share comes back during the retries and the night publishes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from datetime import date
from pathlib import Path

import duckdb
import pytest

from warehouse import connect, runs
from warehouse.lock import warehouse_lock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

RETRY_LINE = "Retry 1/"  # Prefect's task engine: "... - Retry 1/3 will start 2 second(s) ..."


class OnRetry(logging.Handler):
    """Runs `action` once, when a task run logs its first retry."""

    def __init__(self, action) -> None:
        super().__init__()
        self.action, self.fired = action, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if RETRY_LINE in record.getMessage() and not self.fired.is_set():
            self.action()
            self.fired.set()


def failure_of(night) -> BaseException:
    try:
        night()
    except Exception as exc:  # noqa: BLE001 - the failure is what the test looks at
        return exc
    raise AssertionError("the night did not fail")


@pytest.fixture(scope="module")
def nights(prefect_api, small_landing, tmp_path_factory):
    from flows.nightly import nightly_replenishment

    base = tmp_path_factory.mktemp("nights")
    landing, away = base / "landing", base / "landing-away"
    warehouse, out = base / "wh" / "warehouse.duckdb", base / "out"
    shutil.copytree(small_landing, landing)

    def night():
        return nightly_replenishment(landing=str(landing), warehouse=str(warehouse), out=str(out))

    errors = {}
    os.environ["VMI_DBT_PROJECT_DIR"] = str(base / "no-dbt-project")  # dbt cannot build
    try:
        errors["dbt"] = failure_of(night)
    finally:
        del os.environ["VMI_DBT_PROJECT_DIR"]
    with warehouse_lock(warehouse):  # another run holds the warehouse
        errors["busy"] = failure_of(night)
    landing.rename(away)  # the share is gone: three retries, then the night fails
    errors["landing"] = failure_of(night)
    jsonl = runs.failed_runs_file(warehouse)
    lines_before = [json.loads(line) for line in jsonl.read_text().splitlines()]

    back = OnRetry(lambda: away.rename(landing))  # the share is back before the first retry
    logger = logging.getLogger("prefect.task_runs")
    logger.addHandler(back)
    try:
        folder = Path(night())
    finally:
        logger.removeHandler(back)
    return {"errors": errors, "jsonl": lines_before, "folder": folder, "retried": back.fired,
            "warehouse": warehouse, "out": out}  # fmt: skip


def test_each_failure_is_raised_as_what_it_is(nights):
    errors = nights["errors"]
    assert type(errors["dbt"]).__name__ == "DbtBuildError"
    assert type(errors["busy"]).__name__ == "WarehouseBusy"
    assert type(errors["landing"]).__name__ == "LandingUnavailable"
    assert str(errors["landing"]).startswith("--landing: ")
    assert "does not exist (share not mounted?)" in str(errors["landing"])


def test_runs_that_never_opened_the_warehouse_are_lines_of_failed_runs_jsonl(nights):
    lines = nights["jsonl"]
    assert [(r["failed_stage"], r["error_class"]) for r in lines] == [
        ("start", "WarehouseBusy"),
        ("start", "LandingUnavailable"),
    ]
    assert "in use by another run" in lines[0]["error_message"]
    assert "share not mounted" in lines[1]["error_message"]
    assert all("\n" not in r["error_message"] and r["run_id"] for r in lines)


def test_a_share_back_during_the_retries_is_ingested_and_published(nights):
    assert nights["retried"].is_set()
    summary = json.loads((nights["folder"] / "run_summary.json").read_text())
    assert sum(f["rows_accepted"] for f in summary["files"]) > 0
    # GX Data Docs go under OUT, not into the checkout.
    docs = Path(summary["data_docs"])
    assert docs.is_file() and docs.is_relative_to(nights["out"] / "data_docs")


def test_failed_nights_are_in_pipeline_runs_and_rpt_run_history(nights):
    with duckdb.connect(str(nights["warehouse"]), read_only=True) as con:
        kept = con.execute(
            "select status, failed_stage, error_class, error_message from pipeline.runs "
            "order by started_at"
        ).fetchall()
        history = con.execute(
            "select distinct run_status, failed_stage, error_class from reporting.rpt_run_history "
            "where run_status = 'failed' order by error_class"
        ).fetchall()
    assert [row[:3] for row in kept] == [
        ("failed", "dbt_core", "DbtBuildError"),
        ("failed", "start", "WarehouseBusy"),
        ("failed", "start", "LandingUnavailable"),
        ("published", None, None),
    ]
    assert "dbt build --selector core failed" in kept[0][3]
    assert history == [
        ("failed", "dbt_core", "DbtBuildError"),
        ("failed", "start", "LandingUnavailable"),
        ("failed", "start", "WarehouseBusy"),
    ]


def test_the_next_report_lists_the_failed_nights(nights):
    summary = json.loads((nights["folder"] / "run_summary.json").read_text())
    assert [f["error_class"] for f in summary["failed_nights"]] == [
        "DbtBuildError",
        "WarehouseBusy",
        "LandingUnavailable",
    ]
    html = (nights["folder"] / "report.html").read_text()
    note = html[html.index('id="failed-nights"') :]
    note = note[: note.index("</div>")]
    assert "Failed nights since the last published run (3)" in note
    for failed in summary["failed_nights"]:
        assert failed["error_class"] in note and failed["run_id"] in note
    assert "share not mounted" in note


def test_an_existing_warehouse_gains_the_failure_columns(tmp_path):
    """A warehouse from before the failure columns: the next start adds them, rows kept; a
    run left `running` by a kill becomes a failed night, and so does a jsonl line."""
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema pipeline")
        con.execute("create schema raw")
        con.execute("create table raw.file_ledger (file_sha256 VARCHAR)")  # marks a vmi warehouse
        con.execute(
            "create table pipeline.runs (run_id VARCHAR PRIMARY KEY, as_of DATE, status VARCHAR, "
            "started_at TIMESTAMP, finished_at TIMESTAMP, out_dir VARCHAR)"
        )
        con.execute(
            "insert into pipeline.runs values "
            "('old', '2026-03-01', 'published', '2026-03-01 02:00', '2026-03-01 02:05', 'o'), "
            "('killed', '2026-03-02', 'running', '2026-03-02 02:00', null, 'o')"
        )
    record = runs.failure_record(
        "locked-out", warehouse=path, out_dir=tmp_path, as_of=date(2026, 3, 3), stage="start",
        error=RuntimeError("warehouse in use\nby another run"),
    )  # fmt: skip
    runs.append_failed_run(record)
    with connect(path) as con:
        runs.begin_run(con, "new", tmp_path)
        failed = runs.failed_since_published(con)
        runs.begin_run(con, "newer", tmp_path)  # a second start imports the line only once
        count = con.execute("select count(*) from pipeline.runs").fetchall()[0][0]
    assert [(f["run_id"], f["error_class"]) for f in failed] == [
        ("killed", "Interrupted"),
        ("locked-out", "RuntimeError"),
    ]
    assert failed[1]["error_message"] == "warehouse in use by another run"  # one line
    assert count == 5  # old, killed, locked-out, new (now Interrupted too), newer
