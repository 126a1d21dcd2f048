"""The nightly replenishment flow, top to bottom like DESIGN's pipeline diagram:

    ingest + validate -> dbt build (core) -> forecast -> replenish -> dbt build (reporting)
    -> publish

Every stage is a task in flows/tasks.py (load, one pure call, store). Configuration is checked
once, up front, never retried (but a missing landing share). Any exception propagates, fails
the flow run, records the run `failed` with its stage and error and publishes nothing.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date

import pandas as pd
from prefect import flow
from prefect.context import FlowRunContext

from flows import tasks
from flows.artifacts import publish_artifacts
from flows.notify import notify_critical_alerts, notify_failure
from flows.settings import RunSettings
from flows.tasks import ingest_and_validate, is_transient  # noqa: F401 - the flow's public API
from forecasting import join_chunks
from planner import console
from planner.run_folder import run_summary
from replenishment import demand
from warehouse.lock import warehouse_lock
from warehouse.runs import new_run_id


@flow(name="forecast-demand")
def forecast_demand(settings: RunSettings) -> tuple[pd.DataFrame, ...]:
    """Fan the series out in chunks over the task runner; only the settings travel the API,
    and each task only its own chunk of history and profiles (never the whole frames)."""
    history, horizon, profiles = tasks.load_history(settings)
    parts = tasks.chunk_frames(history, profiles, FlowRunContext.get().task_runner)
    futures = tasks.forecast_chunk.map([p[0] for p in parts], horizon, [p[1] for p in parts])
    forecasts, diagnostics = join_chunks([f.result() for f in console.track(futures)])
    return forecasts, diagnostics, history, profiles


@flow(
    name="nightly-replenishment",
    log_prints=True,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
    on_completion=[notify_critical_alerts],
)
def nightly_replenishment(
    landing: str | None = None,
    warehouse: str | None = None,
    out: str | None = None,
    as_of: date | None = None,
    policy_config: str | None = None,
) -> str:
    """One nightly VMI run; returns the published run folder. A path not passed comes from
    vmi.toml (VMI_CONFIG) or VMI_* at run time (planner/config_file.py)."""
    settings = RunSettings.from_args(landing, warehouse, out, as_of, policy_config)
    run_id = new_run_id(settings.as_of)
    clock = tasks.StageClock()
    with ExitStack() as held:  # the lock, once taken: a failure before it is recorded too
        try:
            config = tasks.check_configuration(settings)
            held.enter_context(warehouse_lock(settings.warehouse))
            failed_nights = tasks.begin_run(settings, run_id)
            with clock.stage("ingest_validate") as stage:
                ingested = tasks.ingest_and_validate(settings, run_id)
                files = stage["files"] = ingested["files"]
                stage["rows"] = sum(f["rows_accepted"] for f in files)
            with clock.stage("data_docs") as stage:
                data_docs = tasks.build_validation_docs(ingested["validations"], run_id, settings)
                stage.update(rows=len(ingested["validations"]), docs=data_docs)
            run_as_of = tasks.resolve_as_of(settings, run_id)
            with clock.stage("dbt_core") as stage:
                stage["rows"] = tasks.dbt_build(settings, "core", run_as_of, run_id)
            with clock.stage("forecast") as stage:
                runner = tasks.forecast_task_runner(settings)
                forecasts, diagnostics, history, profiles = forecast_demand.with_options(
                    task_runner=runner
                )(settings)
                forecast_out, accuracy = tasks.store_forecasts(
                    settings, run_id, run_as_of, forecasts, diagnostics
                )
                stage["rows"] = history["unique_id"].nunique()
            with clock.stage("replenish") as stage:
                outputs = tasks.replenish(
                    settings, config, run_id, run_as_of, (forecasts, diagnostics, accuracy),
                    ingested["files"], ingested["restatements"],
                )  # fmt: skip
                stage.update(rows=len(outputs.suggestions), alerts=outputs.alerts)
            with clock.stage("dbt_reporting") as stage:
                stage["rows"] = tasks.dbt_build(settings, "reporting", run_as_of, run_id)
            with clock.stage("stage_outputs") as stage:
                tables = {
                    "suggestions": outputs.suggestions,
                    "alerts": outputs.alerts,
                    "quarantine": ingested["quarantine"],
                    "forecast": forecast_out,
                    "seasonality": demand.profile_output(profiles),
                    **outputs.side_tables(),  # transfers, actions, tier_proposals
                    **tasks.report_tables(settings, run_as_of),
                }
                stage["rows"] = sum(len(table) for table in tables.values())
            summary = run_summary(
                run_id, run_as_of, settings.warehouse, data_docs, ingested["files"],
                clock.stages, outputs.alerts, ingested["restatements"],
            )  # fmt: skip
            summary["failed_nights"] = failed_nights  # the report lists them
            folder = tasks.publish(settings, run_id, run_as_of, tables, summary)
        except BaseException as error:
            tasks.mark_failed(settings, run_id, clock, error)
            raise
    publish_artifacts(folder)
    print(f"published {folder}")
    return str(folder)
