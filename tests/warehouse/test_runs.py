"""warehouse.runs: one rollback for every table that carries a run_id, and reruns of an as-of."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

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
    assert [r[0] for r in con.execute("select run_id from pipeline.runs").fetchall()] == ["good"]
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
