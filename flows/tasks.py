"""The nightly flow's tasks: each loads its inputs from the warehouse, makes one pure call into
a package that knows the job (landing/, forecasting/, replenishment/, planner/), and stores the
result. Side-effecting tasks use NO_CACHE; only transient faults are retried (`is_transient`).
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from flows.dbt_build import run_dbt_build
from flows.settings import RunSettings
from landing.ingest import FILE_COLUMNS, ingest_landing
from landing.validate import build_data_docs
from planner import console, run_folder
from planner.config_file import retry_schedule
from planner.console import StageClock
from replenishment import demand, plan
from replenishment.config import PolicyConfig, load_policy_config
from warehouse import connect, marts, pipeline, raw, restatements, runs, transaction
from warehouse.workbench import Store

SERIES_PER_CHUNK = 800  # ~6 s of work a task, Prefect's share ~0.3 s (context, engine)
PARALLEL_MIN_SERIES = 3000  # a worker costs ~4 s CPU to start: pays off from ~2,000 series
SEASON = dict(season_length=demand.SEASON_LENGTH, freq=demand.FREQ)  # forecasting's keywords


def is_transient(task, task_run, state) -> bool:
    """Retry only faults that can pass (I/O errors, a busy warehouse file); a bug fails at once."""
    try:
        state.result()
    except (OSError, duckdb.IOException, duckdb.TransactionException):
        return True
    except Exception:
        return False
    return False


TRANSIENT_RETRIES = dict(retry_condition_fn=is_transient, **retry_schedule())  # VMI_RETRY_DELAYS
STAGE = dict(cache_policy=NO_CACHE, **TRANSIENT_RETRIES)


@task(cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def check_configuration(settings: RunSettings) -> PolicyConfig:
    """Validate paths and the policy file before anything is written; only a missing landing
    share (`LandingUnavailable`, an OSError) is retried, a configuration error fails at once."""
    settings.check_landing()
    settings.check()
    return load_policy_config(settings.policy_config)


@task(**STAGE)
def begin_run(settings: RunSettings, run_id: str) -> list[dict]:
    """Roll back unfinished runs (finish those their run folder shows), start this one and
    return the nights that failed since the last published run (for the report)."""
    with connect(settings.warehouse) as con:
        runs.begin_run(con, run_id, settings.out, run_folder)
        return runs.failed_since_published(con)


@task(**STAGE)
def ingest_and_validate(settings: RunSettings, run_id: str) -> dict:
    """Read, validate (GX) and load every landing file; a retry first rolls back this run's rows.

    Rows dated after today are quarantined; rows after a backfill's as-of are kept for later runs.
    """
    with connect(settings.warehouse) as con:
        runs.rollback_run(con, run_id)
        say = console.ticking(get_run_logger().info, settings.landing)  # and the ingest bar
        result = ingest_landing(settings.landing, con, run_id=run_id, as_of=None, progress=say)
        dropped = restatements.partial_restatements(con, run_id)  # SKUs a restatement left out
    keys = ("files", "quarantine", "validations")
    return {key: getattr(result, key) for key in keys} | {"restatements": dropped}


@task(cache_policy=NO_CACHE)
def build_validation_docs(validations: list, run_id: str, settings: RunSettings) -> str | None:
    """GX Data Docs of this run's validations in OUT/data_docs/; a view for people, so a
    failure only warns."""
    site_dir = settings.out / "data_docs"
    try:
        return str(build_data_docs(validations, run_name=run_id, site_dir=site_dir))
    except Exception as exc:  # noqa: BLE001 - reported, never fatal
        get_run_logger().warning("Data Docs not built: %s: %s", type(exc).__name__, exc)
        return None


@task(**STAGE)
def resolve_as_of(settings: RunSettings, run_id: str) -> date:
    """The given as-of, or the newest date in the feeds."""
    with connect(settings.warehouse) as con:
        as_of = settings.as_of or raw.newest_feed_date(con)
        if as_of is None:
            raise ValueError(f"no sell-through or inventory rows accepted from {settings.landing}")
        settings.check_out(as_of)  # the as-of's run folder must be replaceable (SettingsError)
        runs.set_run_as_of(con, run_id, as_of)
    return as_of


@task(cache_policy=NO_CACHE)
def dbt_build(settings: RunSettings, selector: str, as_of: date, run_id: str) -> int:
    """`dbt build` of one selector; a failed model or data test fails the flow."""
    extra = {"nodes_as_tasks": settings.dbt_nodes_as_tasks, "policy": settings.policy_config}
    return run_dbt_build(settings.warehouse, selector, as_of, run_id=run_id, **extra)


@task(**STAGE)
def load_history(settings: RunSettings) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """Weekly demand per active pair (censored weeks flagged), the horizon in weeks, and the
    seasonal profiles pooled over the whole network (once, before the series are chunked)."""
    from forecasting import seasonal_profiles

    with connect(settings.warehouse) as con:
        history = demand.forecast_history(marts.weekly_demand(con))
        inputs = marts.replenishment_inputs(con)
    longest = plan.longest_protection_days(inputs, demand.HORIZON_LEAD_TIME_SDS)
    groups = demand.forecast_groups(inputs)
    profiles = seasonal_profiles(history, groups=groups, **SEASON)
    return history, demand.horizon_weeks(longest), profiles


@task(cache_policy=NO_CACHE)
def forecast_chunk(
    history: pd.DataFrame, horizon: int, profiles: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast one chunk of series (runs in a worker process or on a Dask worker)."""
    from forecasting import forecast_with_diagnostics

    return forecast_with_diagnostics(history, horizon=horizon, profiles=profiles, **SEASON)


def chunk_frames(history: pd.DataFrame, profiles: pd.DataFrame, runner) -> list[tuple]:
    """(history, profiles) of each chunk, its own series only: up to SERIES_PER_CHUNK series,
    as many chunks as a multiple of the runner's slots (Dask worker threads, or its workers)."""
    from forecasting import split_panel

    client = getattr(runner, "client", None)  # DaskTaskRunner: connects to the scheduler
    local = min(getattr(runner, "_max_workers", 1), os.cpu_count() or 1)  # thread pools: maxsize
    slots = sum(client.nthreads().values()) if client else local
    return split_panel(history, profiles, slots=slots, max_series=SERIES_PER_CHUNK)


def forecast_task_runner(settings: RunSettings):
    """Dask cluster when VMI_DASK_ADDRESS is set; worker processes for big nights; else inline."""
    address = os.environ.get("VMI_DASK_ADDRESS")
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    workers = int(os.environ.get("VMI_FORECAST_WORKERS", os.cpu_count() or 1))
    with connect(settings.warehouse) as con:
        n_series = marts.active_pair_count(con)
    if workers > 1 and n_series >= PARALLEL_MIN_SERIES:
        return ProcessPoolTaskRunner(max_workers=workers)
    return ThreadPoolTaskRunner(max_workers=1)


@task(**STAGE)
def store_forecasts(
    settings: RunSettings,
    run_id: str,
    as_of: date,
    forecasts: pd.DataFrame,
    diagnostics: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """forecast.csv rows and accuracy rows, stored in the warehouse under this run only."""
    out = demand.forecast_output(forecasts)
    accuracy = demand.accuracy_output(diagnostics, run_id, as_of)
    frames = {"forecasts": out.assign(run_id=run_id), "forecast_accuracy": accuracy}
    with connect(settings.warehouse) as con, transaction(con):
        pipeline.store_outputs(con, frames)
    return out, accuracy


@task(**STAGE)
def replenish(
    settings: RunSettings,
    config: PolicyConfig,
    run_id: str,
    as_of: date,
    forecasts: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    files: list[dict],
    restated: list[dict] | None = None,
) -> plan.ReplenishmentPlan:
    """Suggested quantities (with the workbench's overrides and snoozes), alerts, transfers."""
    raw_forecasts, diagnostics, accuracy = forecasts
    rejected = pd.DataFrame([f for f in files if f["status"] == "rejected"], columns=FILE_COLUMNS)
    store = Store.beside(settings.out)  # read only if the workbench made it (a read creates it)
    overrides = pd.DataFrame(store.active_overrides(as_of) if store.path.is_file() else [])
    snoozes = pd.DataFrame(store.active_snoozes(as_of) if store.path.is_file() else [])
    with connect(settings.warehouse) as con:
        freshness, inputs = marts.feed_freshness(con), marts.replenishment_inputs(con)
        positions = plan.positions_with_staleness(inputs, freshness, config)
        exceptions = marts.sales_exceptions(con, since=plan.exceptions_since(as_of))
        last_sales, dealers, supply = marts.dealer_skus(con), marts.dealers(con), marts.supply(con)
        steering = marts.dealer_steering(con)  # escalation walk, tier proposals
    daily = demand.daily_demand(raw_forecasts, diagnostics, plan.protection_days(positions), as_of)
    outputs = plan.plan_replenishment(
        positions, daily, accuracy=accuracy, rejected_files=rejected, freshness=freshness,
        sales_exceptions=exceptions, last_sales=last_sales, dealers=dealers, config=config,
        run_id=run_id, as_of=as_of, overrides=overrides, snoozes=snoozes, supply=supply,
        restatements=pd.DataFrame(restated or [], columns=restatements.RESTATEMENT_KEYS),
        **steering,
    )  # fmt: skip
    with connect(settings.warehouse) as con, transaction(con):
        tables = ("suggestions", "alerts", "transfers")
        pipeline.store_outputs(con, {name: getattr(outputs, name) for name in tables})
    return outputs


@task(cache_policy=NO_CACHE)
def report_tables(settings: RunSettings, as_of: date) -> dict[str, pd.DataFrame]:
    """The planner-facing extras the report draws: history, items, KPIs, freshness."""
    since = as_of - timedelta(weeks=run_folder.HISTORY_WEEKS)
    with connect(settings.warehouse) as con:
        return marts.report_tables(con, since=since, item_columns=run_folder.TABLES["items"])


@task(**STAGE)
def publish(
    settings: RunSettings, run_id: str, as_of: date, tables: dict[str, pd.DataFrame], summary: dict
) -> Path:
    """Rename the run folder (CSVs, summary, report) into place, then commit it as published."""
    from planner.report import build_report

    path = run_folder.publish_run(settings.out, as_of, run_id, tables, summary, finish=build_report)
    with connect(settings.warehouse) as con:
        runs.mark_published(con, run_id, as_of, summary["stages"])
    return path


def mark_failed(settings: RunSettings, run_id: str, clock: StageClock, error: BaseException):
    """Record where and why the run failed: in its pipeline.runs row, or in failed-runs.jsonl
    beside the warehouse when it never got one (best effort: the error itself matters more)."""
    record = runs.failure_record(
        run_id, warehouse=settings.warehouse, out_dir=settings.out, as_of=settings.as_of,
        stage=clock.current, error=error, started_at=clock.started_at,
    )  # fmt: skip
    runs.record_failure(record, has_row=clock.current != "start")  # "start": before begin_run
