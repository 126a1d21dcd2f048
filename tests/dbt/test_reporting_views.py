"""The rpt_* views show published runs only: a rerun's rows appear when its publish commits.

One warehouse (the hand-made world of test_dbt_project.py, `dbt build --selector core`) with
runs of as-of 2024-03-20: r1 published, r3 failed (started later), and r2 running, the rerun
whose forecast, replenish and reporting build are done but whose publish is not. An older
as-of, 2024-03-13, has its own published run r0. The reporting selector is built as r2's run
would build it. Then r2 is published by the real publish transaction (`runs.mark_published`),
and the same views, not rebuilt, show r2.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from replenishment.policy import SUGGESTION_COLUMNS
from tests.dbt.test_dbt_project import (
    AS_OF,
    core_built_once,
    d,
    failed_nodes,
    rows,
    run_dbt,
    suggestion,
)
from warehouse import connect, runs

pytestmark = pytest.mark.slow

EARLIER = "2024-03-13"
VIEWS = ("rpt_suggestions", "rpt_alert_summary", "rpt_forecast_accuracy", "rpt_dealer_kpis")
ALERT_TYPE = {"r0": "stockout", "r1": "stale_feed", "r2": "overstock", "r3": "dead_stock"}
RUNS = [
    # run_id, as_of, status, started at (hour of 2024-03-21)
    ("r0", EARLIER, "published", 0),
    ("r1", AS_OF, "published", 1),
    ("r2", AS_OF, "running", 3),
    ("r3", AS_OF, "failed", 2),
]


def add_run_outputs(con: duckdb.DuckDBPyConnection) -> None:
    """Each run's suggestions (its own quantities), alerts and accuracy rows."""
    for run_id, as_of, status, hour in RUNS:
        con.execute(
            "insert into pipeline.runs (run_id, as_of, status, started_at, finished_at, out_dir) "
            "values (?, ?, ?, ?, ?, ?)",
            [run_id, d(as_of), status, dt.datetime(2024, 3, 21, hour), None, f"out/{run_id}"],
        )
        qty = {"r0": 1.0, "r1": 4.0, "r2": 9.0, "r3": 7.0}[run_id]
        con.executemany(
            f"insert into pipeline.suggestions ({', '.join(SUGGESTION_COLUMNS)}) "
            f"values ({', '.join(['?'] * 26)})",
            [suggestion(run_id, as_of, "D1", "A", qty), suggestion(run_id, as_of, "D2", "B", qty)],
        )
        con.execute(
            "insert into pipeline.alerts values (?, ?, ?, 'warning', 'D2', null, 1, 1, 'x')",
            [run_id, d(as_of), ALERT_TYPE[run_id]],
        )
        con.execute(
            "insert into pipeline.forecast_accuracy values (?, ?, 'D1', 'A', ?, 'smooth', "
            "1, 0.2, 0.1, 1, 52)",
            [run_id, d(as_of), f"model_{run_id}"],
        )


def reporting_build(warehouse: Path, work: Path, run_id: str) -> None:
    result = run_dbt(
        ["build", "--selector", "reporting"], warehouse, work, {"as_of": AS_OF, "run_id": run_id}
    )
    assert result.success, failed_nodes(result)


def shown(warehouse: Path) -> dict[str, set[tuple[str, str]]]:
    """(run_id, as_of) pairs each view shows."""
    return {
        view: {
            (run_id, str(as_of))
            for run_id, as_of in rows(warehouse, f"select run_id, as_of_date from reporting.{view}")
        }
        for view in VIEWS
    }


def only_kpis(run_id: str) -> dict[str, set[tuple[str, str]]]:
    return {"rpt_dealer_kpis": {(run_id, AS_OF)}}


@pytest.fixture(scope="module")
def core_built(make_once) -> Path:
    """test_dbt_project.py's core build of the hand-made world, made once per session (read
    only: each test copies it)."""
    return core_built_once(make_once)


def test_views_show_the_published_run_until_the_rerun_publishes(core_built, tmp_path):
    warehouse = tmp_path / "rerun.duckdb"
    shutil.copy(core_built, warehouse)
    with connect(warehouse) as con:
        add_run_outputs(con)
    # The per-run KPI history gets r1 as its night did, then r2 (the rerun; the marts are of
    # 2024-03-20, so r0 has no KPI rows).
    reporting_build(warehouse, tmp_path, "r1")
    reporting_build(warehouse, tmp_path, "r2")

    published = {("r0", EARLIER), ("r1", AS_OF)}
    assert shown(warehouse) == {**{view: published for view in VIEWS}, **only_kpis("r1")}
    assert sorted(
        rows(warehouse, "select run_id, sku, suggested_qty from reporting.rpt_suggestions")
    ) == [("r0", "A", 1.0), ("r0", "B", 1.0), ("r1", "A", 4.0), ("r1", "B", 4.0)]
    assert sorted(rows(warehouse, "select alert_type from reporting.rpt_alert_summary")) == [
        ("stale_feed",),
        ("stockout",),
    ]
    # The history itself keeps every run's KPIs; only the view filters.
    assert sorted(
        rows(warehouse, "select distinct run_id from reporting.fct_dealer_kpis_by_run")
    ) == [("r1",), ("r2",)]
    types = dict(
        rows(
            warehouse,
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'reporting'",
        )
    )
    assert {view: types[view] for view in VIEWS} == {view: "VIEW" for view in VIEWS}

    # The publish transaction, and nothing else: no dbt build in between.
    with connect(warehouse) as con:
        runs.mark_published(con, "r2", d(AS_OF), [])
    published = {("r0", EARLIER), ("r2", AS_OF)}
    assert shown(warehouse) == {**{view: published for view in VIEWS}, **only_kpis("r2")}
    assert sorted(
        rows(warehouse, "select run_id, sku, suggested_qty from reporting.rpt_suggestions")
    ) == [("r0", "A", 1.0), ("r0", "B", 1.0), ("r2", "A", 9.0), ("r2", "B", 9.0)]
    assert sorted(rows(warehouse, "select run_id from reporting.rpt_forecast_accuracy")) == [
        ("r0",),
        ("r2",),
    ]


def test_upgrade_turns_the_old_tables_into_views_and_keeps_the_kpi_history(core_built, tmp_path):
    """A warehouse of the previous release: rpt_* were tables, the KPI history was the table
    rpt_dealer_kpis. The next reporting build keeps that history."""
    warehouse = tmp_path / "upgrade.duckdb"
    shutil.copy(core_built, warehouse)
    with connect(warehouse) as con:
        add_run_outputs(con)
        con.execute("create schema if not exists reporting")
        con.execute("create table reporting.rpt_suggestions as select 'r3' as run_id")
        con.execute(
            "create table reporting.rpt_dealer_kpis as "
            "select 'r0' as run_id, k.*, dd.dealer_name, dd.region, ?::date as as_of_date "
            "from marts.fct_dealer_kpis k left join marts.dim_dealers dd using (dealer_id)",
            [d(EARLIER)],
        )
        kept_before = con.execute(
            "select dealer_id, stockout_days from reporting.rpt_dealer_kpis order by 1"
        ).fetchall()
    reporting_build(warehouse, tmp_path, "r1")

    history = rows(
        warehouse,
        "select dealer_id, stockout_days from reporting.fct_dealer_kpis_by_run "
        "where run_id = 'r0' order by 1",
    )
    assert history == kept_before and len(history) == 3
    assert shown(warehouse)["rpt_dealer_kpis"] == {("r0", EARLIER), ("r1", AS_OF)}
    assert shown(warehouse)["rpt_suggestions"] == {("r0", EARLIER), ("r1", AS_OF)}
