"""The nightly replenishment flow: one task per stage, top to bottom like DESIGN's pipeline.

    ingest -> validate -> dbt build (core) -> forecast -> replenish -> dbt build (reporting)
    -> publish

Each task owns its retries: the ones that touch the landing share or the warehouse file retry
with backoff (a busy share or a locked file are transient); configuration is checked once,
up front, and never retried. Any exception propagates, fails the flow run, marks the run
`failed` in the warehouse and publishes nothing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from flows.artifacts import publish_artifacts
from flows.dbt_build import run_dbt_build
from flows.notify import notify_critical_alerts, notify_failure
from flows.settings import RunSettings
from planner.run_folder import publish_run
from replenishment import demand as forecast_stage
from replenishment import plan as replenish_stage
from replenishment.config import PolicyConfig, load_policy_config
from warehouse import runs
from warehouse.connection import connect, transaction


def is_transient(task, task_run, state) -> bool:
    """Retry only faults that can pass: file-system and I/O errors, a busy warehouse file.

    A bug or bad data fails at once instead of three more times.
    """
    try:
        state.result()
    except (OSError, duckdb.IOException, duckdb.TransactionException):
        return True
    except Exception:
        return False
    return False


TRANSIENT_RETRIES = dict(retries=3, retry_delay_seconds=[2, 5, 15], retry_condition_fn=is_transient)


@dataclass
class StageClock:
    """Seconds and rows per stage, for run_summary.json and pipeline.stage_timings."""

    stages: list[dict] = field(default_factory=list)

    def add(self, name: str, started: float, rows: int) -> None:
        self.stages.append(
            {"name": name, "seconds": round(time.perf_counter() - started, 3), "rows": int(rows)}
        )


@task(cache_policy=NO_CACHE)
def check_configuration(settings: RunSettings) -> PolicyConfig:
    """Validate paths and the policy file before anything is written (no retries: not transient)."""
    settings.check()
    return load_policy_config(settings.policy_config)


@task(cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def begin_run(settings: RunSettings, run_id: str) -> list[str]:
    """Roll back what unfinished runs left, then register this run as `running`."""
    with connect(settings.warehouse) as con:
        cleaned = runs.rollback_unpublished(con)
        runs.start_run(con, run_id, settings.out)
    return cleaned


@task(cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def ingest_and_validate(settings: RunSettings, run_id: str) -> dict:
    """Read every landing file, validate it with Great Expectations, load accepted rows.

    A retry starts from a clean slate: whatever an earlier attempt of this run loaded is
    rolled back first, so a file is never counted twice.
    """
    from landing.ingest import ingest_landing, rollback_run

    logger = get_run_logger()
    with connect(settings.warehouse) as con:
        rollback_run(con, run_id)
        result = ingest_landing(
            # Rows dated after today are impossible and quarantined; rows after a backfill's
            # as-of are not: they are kept (the marts ignore them) so a later run can use them.
            settings.landing,
            con,
            run_id=run_id,
            as_of=None,
            progress=logger.info,
        )
    return {
        "files": result.files,
        "quarantine": result.quarantine,
        "validations": result.validations,
    }


@task(cache_policy=NO_CACHE)
def build_validation_docs(validations: list, run_id: str) -> str | None:
    """GX Data Docs for this run's validations (git-ignored folder); a failure here only warns.

    The docs are a view for people, not an output the run depends on: a broken renderer must
    not stop the night's suggestions.
    """
    from landing.validate import build_data_docs

    try:
        return str(build_data_docs(validations, run_name=run_id))
    except Exception as exc:  # noqa: BLE001 - reported, never fatal
        get_run_logger().warning("Data Docs not built: %s: %s", type(exc).__name__, exc)
        return None


@task(cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def resolve_as_of(settings: RunSettings, run_id: str) -> date:
    """The given as-of, or the newest date in the feeds."""
    from landing.ingest import newest_feed_date

    with connect(settings.warehouse) as con:
        as_of = settings.as_of or newest_feed_date(con)
        if as_of is None:
            raise ValueError(
                f"no sell-through or inventory rows were accepted from {settings.landing}"
            )
        runs.set_run_as_of(con, run_id, as_of)
    return as_of


@task(cache_policy=NO_CACHE)
def dbt_build(settings: RunSettings, selector: str, as_of: date, run_id: str) -> int:
    """`dbt build` of one selector; a failed model or data test fails the flow."""
    return run_dbt_build(
        settings.warehouse,
        selector,
        as_of,
        run_id=run_id,
        nodes_as_tasks=settings.dbt_nodes_as_tasks,
    )


@task(cache_policy=NO_CACHE)
def forecast_chunk(history: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast one chunk of series (runs in a worker process or on a Dask worker)."""
    from forecasting import forecast_with_diagnostics

    return forecast_with_diagnostics(
        history,
        horizon=horizon,
        season_length=forecast_stage.SEASON_LENGTH,
        freq=forecast_stage.FREQ,
        level=95,
    )


def forecast_task_runner(settings: RunSettings):
    """Dask cluster when VMI_DASK_ADDRESS is set; worker processes for big nights; else inline.

    Starting worker processes costs seconds, so small runs forecast in the flow's process.
    """
    address = os.environ.get("VMI_DASK_ADDRESS")
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    workers = int(os.environ.get("VMI_FORECAST_WORKERS", os.cpu_count() or 1))
    with connect(settings.warehouse) as con:
        n_series = forecast_stage.active_pair_count(con)
    if workers > 1 and n_series >= forecast_stage.PARALLEL_MIN_SERIES:
        return ProcessPoolTaskRunner(max_workers=workers)
    return ThreadPoolTaskRunner(max_workers=1)


@task(cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def load_history(settings: RunSettings) -> tuple[pd.DataFrame, int]:
    """Weekly demand per active pair (censored weeks as missing) and the horizon in weeks."""
    with connect(settings.warehouse) as con:
        return forecast_stage.load_weekly_history(con), forecast_stage.horizon_weeks(con)


@flow(name="forecast-demand")
def forecast_demand(settings: RunSettings) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Fan the series out in chunks over the task runner and gather the results.

    Only the settings are a parameter: the history never travels through the Prefect API.
    """
    history, horizon = load_history(settings)
    futures = [
        forecast_chunk.submit(history[history["unique_id"].isin(ids)], horizon)
        for ids in forecast_stage.chunk_ids(history, forecast_stage.chunk_count(history))
    ]
    results = [f.result() for f in futures]
    forecasts = pd.concat([r[0] for r in results], ignore_index=True)
    diagnostics = pd.concat([r[1] for r in results], ignore_index=True)
    return forecasts, diagnostics, history["unique_id"].nunique()


@task(cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def store_forecasts(
    settings: RunSettings,
    run_id: str,
    as_of: date,
    forecasts: pd.DataFrame,
    diagnostics: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = forecast_stage.forecast_output(forecasts)
    accuracy = forecast_stage.accuracy_output(diagnostics, run_id, as_of)
    with connect(settings.warehouse) as con, transaction(con):
        runs.replace_earlier_outputs(con, run_id, as_of)
        out_db = out.assign(run_id=run_id)  # noqa: F841 - scanned by duckdb below
        con.execute("insert into pipeline.forecasts by name select * from out_db")
        con.execute("insert into pipeline.forecast_accuracy by name select * from accuracy")
    return out, accuracy


@task(cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def replenish(
    settings: RunSettings,
    config: PolicyConfig,
    run_id: str,
    as_of: date,
    forecasts: pd.DataFrame,
    diagnostics: pd.DataFrame,
    accuracy: pd.DataFrame,
    files: list[dict],
) -> replenish_stage.ReplenishOutputs:
    """Safety stock, order-up-to and suggested quantities; alerts; transfers."""
    rejected = pd.DataFrame(
        [f for f in files if f["status"] == "rejected"],
        columns=[
            "path",
            "feed",
            "status",
            "rows_read",
            "rows_accepted",
            "rows_quarantined",
            "reason",
        ],
    )
    with connect(settings.warehouse) as con:
        positions = replenish_stage.load_positions(con, config)
        demand = forecast_stage.daily_demand(
            forecasts, diagnostics, replenish_stage.protection_days(positions), as_of
        )
        outputs = replenish_stage.replenish(
            con, positions, demand, accuracy, rejected, config, run_id=run_id, as_of=as_of
        )
        with transaction(con):
            for name in ("suggestions", "alerts", "transfers"):
                frame = getattr(outputs, name)  # noqa: F841 - scanned by duckdb below
                con.execute(f"insert into pipeline.{name} by name select * from frame")
            # The dealer KPIs of this night, kept per run (the mart holds only the latest).
            con.execute(
                """insert into pipeline.dealer_kpis
                   select ?, ?, dealer_id, days_of_inventory, slow_moving_share,
                          sell_through_rate, stockout_days
                   from marts.fct_dealer_kpis""",
                [run_id, as_of],
            )
    return outputs


@task(cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def publish(
    settings: RunSettings,
    run_id: str,
    as_of: date,
    tables: dict[str, pd.DataFrame],
    summary: dict,
) -> Path:
    """Write the run folder (CSVs, run_summary.json, report.html) and rename it into place."""
    from planner.report import build_report

    folder = publish_run(settings.out, as_of, run_id, tables, summary, finish=build_report)
    with connect(settings.warehouse) as con:
        for stage in summary["stages"]:
            runs.record_stage(con, run_id, stage["name"], stage["seconds"], stage["rows"])
        runs.finish_run(con, run_id, "published")
    return folder


@task(cache_policy=NO_CACHE)
def report_tables(settings: RunSettings, as_of: date) -> dict[str, pd.DataFrame]:
    """The planner-facing extras the report draws: history, items, KPIs, freshness."""
    from warehouse.marts import load_report_tables

    with connect(settings.warehouse) as con:
        return load_report_tables(con, as_of)


@flow(
    name="nightly-replenishment",
    log_prints=True,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
    on_completion=[notify_critical_alerts],
)
def nightly_replenishment(
    landing: str,
    warehouse: str,
    out: str | None = None,
    as_of: date | None = None,
    policy_config: str | None = None,
) -> str:
    """One nightly VMI run; returns the published run folder."""
    settings = RunSettings.from_args(landing, warehouse, out, as_of, policy_config)
    config = check_configuration(settings)
    run_id = runs.new_run_id(settings.as_of)
    clock = StageClock()
    with runs.warehouse_lock(settings.warehouse):
        try:
            begin_run(settings, run_id)

            started = time.perf_counter()
            ingested = ingest_and_validate(settings, run_id)
            files = ingested["files"]
            clock.add("ingest_validate", started, sum(f["rows_accepted"] for f in files))

            started = time.perf_counter()
            data_docs = build_validation_docs(ingested["validations"], run_id)
            clock.add("data_docs", started, len(ingested["validations"]))

            run_as_of = resolve_as_of(settings, run_id)

            started = time.perf_counter()
            nodes = dbt_build(settings, "core", run_as_of, run_id)
            clock.add("dbt_core", started, nodes)

            started = time.perf_counter()
            forecasts, diagnostics, n_series = forecast_demand.with_options(
                task_runner=forecast_task_runner(settings)
            )(settings)
            forecast_out, accuracy = store_forecasts(
                settings, run_id, run_as_of, forecasts, diagnostics
            )
            clock.add("forecast", started, n_series)

            started = time.perf_counter()
            outputs = replenish(
                settings, config, run_id, run_as_of, forecasts, diagnostics, accuracy, files
            )
            clock.add("replenish", started, len(outputs.suggestions))

            started = time.perf_counter()
            nodes = dbt_build(settings, "reporting", run_as_of, run_id)
            clock.add("dbt_reporting", started, nodes)

            started = time.perf_counter()
            extras = report_tables(settings, run_as_of)
            tables = {
                "suggestions": outputs.suggestions,
                "alerts": outputs.alerts,
                "quarantine": ingested["quarantine"],
                "forecast": forecast_out,
                "transfers": outputs.transfers,
                **extras,
            }
            clock.add("stage_outputs", started, sum(len(t) for t in tables.values()))
            summary = {
                "run_id": run_id,
                "as_of": run_as_of.isoformat(),
                "warehouse": str(settings.warehouse),
                "data_docs": data_docs,
                "files": files,
                "stages": clock.stages,
                "alerts": outputs.alerts["alert_type"].value_counts().sort_index().to_dict(),
            }
            folder = publish(settings, run_id, run_as_of, tables, summary)
        except BaseException:
            _mark_failed(settings, run_id)
            raise
    publish_artifacts(folder, summary, outputs.alerts)
    print(f"published {folder}")
    return str(folder)


def _mark_failed(settings: RunSettings, run_id: str) -> None:
    try:
        with connect(settings.warehouse) as con:
            if con.execute(
                "select count(*) from pipeline.runs where run_id = ?", [run_id]
            ).fetchall()[0][0]:
                runs.finish_run(con, run_id, "failed")
    except Exception:  # the original error matters more than the bookkeeping
        pass

