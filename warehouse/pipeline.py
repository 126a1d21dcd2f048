"""The `pipeline` schema: per-run outputs of the forecast and replenishment stages.

Each table's columns come from the module that produces the frame (replenishment.policy,
replenishment.alerts, replenishment.plan, replenishment.demand); their SQL types from one map
below, keyed by column name, so a column has the same type wherever it appears.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from replenishment.alerts import ALERT_COLUMNS
from replenishment.demand import ACCURACY_COLUMNS, FORECAST_COLUMNS
from replenishment.plan import TRANSFER_OUTPUT_COLUMNS
from replenishment.policy import SUGGESTION_COLUMNS
from warehouse.raw import insert_frame

TEXT_COLUMNS = {
    "run_id",
    "dealer_id",
    "sku",
    "from_dealer_id",
    "to_dealer_id",
    "demand_class",
    "forecast_model",
    "model",
    "reason",
    "alert_type",
    "severity",
    "message",
    "status",
    "out_dir",
    "stage",
    "failed_stage",
    "error_class",
    "error_message",
}
DATE_COLUMNS = {"as_of", "week_start"}
TIMESTAMP_COLUMNS = {"started_at", "finished_at", "rolled_back_at"}
INTEGER_COLUMNS = {"pack_size", "moq", "n_obs"}
BIGINT_COLUMNS = {"rows"}

# Columns pipeline.runs gained after warehouses existed (`add_run_columns` adds them there):
# where a failed run stopped and why, and when what it wrote was rolled back.
FAILURE_COLUMNS = ["failed_stage", "error_class", "error_message", "rolled_back_at"]
# Run lifecycle tables (warehouse.runs) first, then the outputs of a run, keyed by run_id.
RUN_TABLES: dict[str, list[str]] = {
    "runs": ["run_id", "as_of", "status", "started_at", "finished_at", "out_dir", *FAILURE_COLUMNS],
    "stage_timings": ["run_id", "stage", "seconds", "rows"],
}
OUTPUT_TABLES: dict[str, list[str]] = {
    "forecasts": ["run_id", *FORECAST_COLUMNS],
    "forecast_accuracy": ACCURACY_COLUMNS,
    # allocated_qty: only nights with master/supply.csv have it (replenishment/allocation.py).
    "suggestions": [*SUGGESTION_COLUMNS, "allocated_qty"],
    "alerts": ALERT_COLUMNS,
    "transfers": TRANSFER_OUTPUT_COLUMNS,
}


def sql_type(column: str) -> str:
    if column in TEXT_COLUMNS:
        return "VARCHAR"
    if column in DATE_COLUMNS:
        return "DATE"
    if column in TIMESTAMP_COLUMNS:
        return "TIMESTAMP"
    if column in INTEGER_COLUMNS:
        return "INTEGER"
    if column in BIGINT_COLUMNS:
        return "BIGINT"
    return "DOUBLE"


def pipeline_tables() -> dict[str, str]:
    """Column DDL of every pipeline table (`warehouse.connection.ensure_tables` input)."""
    tables = {**RUN_TABLES, **OUTPUT_TABLES}
    ddl = {
        name: ", ".join(f"{column} {sql_type(column)}" for column in columns)
        for name, columns in tables.items()
    }
    ddl["runs"] = ddl["runs"].replace("run_id VARCHAR", "run_id VARCHAR PRIMARY KEY", 1)
    return ddl


def add_run_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Add the columns pipeline.runs (and pipeline.suggestions) gained later to a warehouse
    made before them."""
    for column in FAILURE_COLUMNS:
        con.execute(
            f"alter table pipeline.runs add column if not exists {column} {sql_type(column)}"
        )
    con.execute("alter table pipeline.suggestions add column if not exists allocated_qty DOUBLE")


def store_outputs(con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame]) -> None:
    """Append a run's output frames (table name -> frame with run_id).

    Call it inside `warehouse.transaction` so the frames land together or not at all.
    """
    unknown = set(frames) - set(OUTPUT_TABLES)
    if unknown:
        raise ValueError(f"not pipeline output tables: {sorted(unknown)}")
    for name, frame in frames.items():
        insert_frame(con, f"pipeline.{name}", frame)
