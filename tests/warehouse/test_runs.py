"""warehouse.runs: one rollback for every table that carries a run_id, and reruns of an as-of."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from landing.schema import raw_tables
from warehouse import connect, ensure_tables, pipeline, runs, transaction


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchall()[0][0]


def seed_run(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, status: str) -> None:
    """A run that wrote one row to a raw feed, a pipeline output and a dbt per-run table."""
    runs.start_run(con, run_id, "/out")
    runs.set_run_as_of(con, run_id, as_of)
    con.execute(
        "insert into raw.sell_through (dealer_id, sku, date, qty_sold, run_id) "
        "values ('D1', 'S1', ?, 1, ?)",
        [as_of, run_id],
    )
    con.execute(
        "insert into pipeline.transfers (run_id, as_of, sku, qty) values (?, ?, 'S1', 1)",
        [run_id, as_of],
    )
    con.execute("insert into reporting.rpt_dealer_kpis values (?, 'D1', 1.5)", [run_id])
    if status != "running":
        runs.finish_run(con, run_id, status)


def warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    con = connect(tmp_path / "wh.duckdb")
    ensure_tables(con, "raw", raw_tables())
    # A table dbt keeps per run, created after the rollback code was written.
    ensure_tables(
        con, "reporting", {"rpt_dealer_kpis": "run_id VARCHAR, dealer_id VARCHAR, x DOUBLE"}
    )
    return con


def test_rollback_unpublished_clears_every_run_id_table_and_keeps_published_runs(tmp_path):
    con = warehouse(tmp_path)
    seed_run(con, "good", date(2026, 3, 1), "published")
    seed_run(con, "killed", date(2026, 3, 2), "running")
    seed_run(con, "broken", date(2026, 3, 3), "failed")
    # Rows of a run killed before its runs row was written.
    con.execute("insert into raw.file_ledger (file_sha256, run_id) values ('abc', 'orphan')")

    assert runs.rollback_unpublished(con) == ["broken", "killed", "orphan"]

    for table in ("raw.sell_through", "pipeline.transfers", "reporting.rpt_dealer_kpis"):
        assert count(con, f"select count(*) from {table} where run_id <> 'good'") == 0, table
        assert count(con, f"select count(*) from {table} where run_id = 'good'") == 1, table
    assert count(con, "select count(*) from raw.file_ledger") == 0
    # The failed and the killed run stay on record as failed (the killed one as Interrupted).
    kept = con.execute(
        "select run_id, status, error_class, rolled_back_at is not null from pipeline.runs "
        "order by run_id"
    ).fetchall()
    assert kept == [
        ("broken", "failed", None, True),
        ("good", "published", None, False),
        ("killed", "failed", "Interrupted", True),
    ]
    assert runs.rollback_unpublished(con) == []  # nothing left to clean


def test_rerun_of_an_as_of_replaces_outputs_and_keeps_the_raw_feeds(tmp_path):
    con = warehouse(tmp_path)
    seed_run(con, "first", date(2026, 3, 1), "published")
    seed_run(con, "second", date(2026, 3, 1), "running")

    runs.replace_earlier_outputs(con, "second", date(2026, 3, 1))

    assert count(con, "select count(*) from pipeline.transfers where run_id = 'first'") == 0
    assert count(con, "select count(*) from reporting.rpt_dealer_kpis where run_id = 'first'") == 0
    assert count(con, "select count(*) from raw.sell_through where run_id = 'first'") == 1
    status = dict(con.execute("select run_id, status from pipeline.runs").fetchall())
    assert status == {"first": "replaced", "second": "running"}


def test_pipeline_tables_accept_the_producers_frames(tmp_path):
    """The DDL is generated from the producers' column lists: their frames insert by name."""
    from replenishment.alerts import ALERT_COLUMNS

    con = connect(tmp_path / "wh.duckdb")
    alerts = pd.DataFrame(
        [["r1", date(2026, 3, 1), "stockout", "critical", "D1", "S1", 0.0, 1.0, "out"]],
        columns=ALERT_COLUMNS,
    )
    with transaction(con):
        pipeline.store_outputs(con, {"alerts": alerts})
    stored = con.execute("select * from pipeline.alerts").df()
    assert list(stored.columns) == list(alerts.columns)
    assert stored.iloc[0]["severity"] == "critical"
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'pipeline' and table_name = 'suggestions'"
        ).fetchall()
    )
    assert types["pack_size"] == "INTEGER" and types["as_of"] == "DATE"
    assert types["suggested_qty"] == "DOUBLE" and types["reason"] == "VARCHAR"


# --------------------------------------------------------------------------------------------
# Write-audit-publish: a rerun touches the published run of its as-of only when it publishes
# --------------------------------------------------------------------------------------------

AS_OF = date(2026, 3, 1)


def statuses(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select run_id, status from pipeline.runs").fetchall())


def output_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[int, int]:
    transfers = count(con, f"select count(*) from pipeline.transfers where run_id = '{run_id}'")
    kpis = count(con, f"select count(*) from reporting.rpt_dealer_kpis where run_id = '{run_id}'")
    return transfers, kpis


def folder_of(out, run_id: str, as_of: date = AS_OF):
    """A published run folder of `run_id` (what `publish_run` leaves)."""
    from planner.run_folder import publish_run

    summary = {"run_id": run_id, "stages": [{"name": "forecast", "seconds": 1.5, "rows": 3}]}
    return publish_run(out, as_of, run_id, {"transfers": pd.DataFrame({"qty": [1]})}, summary)


def test_a_rerun_leaves_the_published_run_alone_until_mark_published(tmp_path):
    con = warehouse(tmp_path)
    seed_run(con, "first", AS_OF, "published")
    seed_run(con, "second", AS_OF, "running")  # the rerun stored all its outputs

    assert runs.published_run(con, AS_OF) == "first"
    assert output_rows(con, "first") == (1, 1)

    runs.mark_published(con, "second", AS_OF, [{"name": "publish", "seconds": 0.5, "rows": 9}])

    assert statuses(con) == {"first": "replaced", "second": "published"}
    assert runs.published_run(con, AS_OF) == "second"
    assert output_rows(con, "first") == (0, 0)
    assert output_rows(con, "second") == (1, 1)
    assert count(con, "select count(*) from raw.sell_through where run_id = 'first'") == 1
    assert con.execute("select run_id, stage, rows from pipeline.stage_timings").fetchall() == [
        ("second", "publish", 9)
    ]


def test_mark_published_is_one_transaction(tmp_path):
    con = warehouse(tmp_path)
    seed_run(con, "first", AS_OF, "published")
    seed_run(con, "second", AS_OF, "running")

    with pytest.raises(duckdb.Error):  # the stage timings fail after the earlier run went
        runs.mark_published(con, "second", AS_OF, [{"name": "x", "seconds": "?", "rows": 1}])

    assert statuses(con) == {"first": "published", "second": "running"}
    assert output_rows(con, "first") == (1, 1)


def test_the_next_start_finishes_a_publish_killed_after_the_folder_rename(tmp_path):
    from planner import run_folder

    con = warehouse(tmp_path)
    out = tmp_path / "out"
    seed_run(con, "first", AS_OF, "published")
    seed_run(con, "second", AS_OF, "running")
    con.execute("update pipeline.runs set out_dir = ?", [str(out)])
    folder_of(out, "second")  # renamed into place; then SIGKILL before mark_published

    assert runs.begin_run(con, "third", out, run_folder) == []

    assert statuses(con) == {"first": "replaced", "second": "published", "third": "running"}
    assert output_rows(con, "first") == (0, 0) and output_rows(con, "second") == (1, 1)
    assert con.execute("select run_id, stage, seconds from pipeline.stage_timings").fetchall() == [
        ("second", "forecast", 1.5)  # from the folder's run_summary.json
    ]


def test_the_next_start_rolls_back_a_rerun_whose_folder_never_replaced_the_published_one(
    tmp_path,
):
    from planner import run_folder

    con = warehouse(tmp_path)
    out = tmp_path / "out"
    seed_run(con, "first", AS_OF, "published")
    seed_run(con, "second", AS_OF, "failed")
    con.execute("update pipeline.runs set out_dir = ?", [str(out)])
    published = folder_of(out, "first")
    # Killed between the two renames: the published folder is parked, the new one is complete.
    published.rename(published.with_name(f".old-{published.name}--second"))
    temp = folder_of(tmp_path / "elsewhere", "second")
    temp.rename(published.with_name(f".tmp-{published.name}--second"))

    assert runs.begin_run(con, "third", out, run_folder) == ["second"]

    assert statuses(con) == {"first": "published", "second": "failed", "third": "running"}
    assert output_rows(con, "first") == (1, 1)
    assert [p.name for p in (out / "runs").iterdir()] == [published.name]  # put back
    assert run_folder.read_run_summary(published)["run_id"] == "first"


def test_a_summary_that_is_not_json_is_no_runs_summary(tmp_path):
    from planner import run_folder

    con = warehouse(tmp_path)
    out = tmp_path / "out"
    seed_run(con, "second", AS_OF, "running")
    con.execute("update pipeline.runs set out_dir = ?", [str(out)])
    (folder_of(out, "first") / "run_summary.json").write_text("{not json")

    assert runs.rollback_unpublished(con, run_folder) == ["second"]


def test_unwritable_names_the_folder_that_stops_a_publish(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert runs.unwritable(out / "runs") is None  # created on publish
    folder = out / "runs" / "2026-03-01" / "orders"
    folder.mkdir(parents=True)
    assert runs.unwritable(out / "runs", folder.parent) is None
    assert runs.unwritable(tmp_path / "file" / "runs") is None
    (tmp_path / "file").write_text("")
    assert runs.unwritable(tmp_path / "file" / "runs") == tmp_path / "file"

    # Root writes whatever the mode; ask os.access the way a normal user's kernel answers.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != folder and real_access(p, mode))
    assert runs.unwritable(out / "runs") is None  # a rerun of another as-of can publish
    assert runs.unwritable(out / "runs", folder.parent) == folder
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != out / "runs")
    assert runs.unwritable(out / "runs") == out / "runs"
