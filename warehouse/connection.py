"""The DuckDB warehouse: one file, fixed schemas, and the DDL of the tables Python writes.

dbt owns `staging`, `intermediate`, `marts` and `reporting`; Python owns `raw` and `pipeline`
(docs/architecture.md). Every statement here uses bound parameters: no value from a feed is
ever pasted into SQL text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

LINEAGE = """
    file_sha256 VARCHAR, source_file VARCHAR, line INTEGER, delivery_seq BIGINT,
    run_id VARCHAR, loaded_at TIMESTAMP
"""

RAW_TABLES: dict[str, str] = {
    "sell_through": f"""dealer_id VARCHAR, sku VARCHAR, date DATE, qty_sold DOUBLE,
        unit_price DOUBLE, customer_region VARCHAR, {LINEAGE}""",
    "inventory": f"dealer_id VARCHAR, sku VARCHAR, snapshot_date DATE, on_hand DOUBLE, {LINEAGE}",
    "shipments": f"""shipment_id VARCHAR, dealer_id VARCHAR, sku VARCHAR, ship_date DATE,
        expected_date DATE, received_date DATE, qty DOUBLE, {LINEAGE}""",
    "dealers": f"""dealer_id VARCHAR, dealer_name VARCHAR, region VARCHAR, territory VARCHAR,
        lead_time_days DOUBLE, lead_time_sd_days DOUBLE, review_period_days INTEGER, {LINEAGE}""",
    "skus": f"""sku VARCHAR, description VARCHAR, category VARCHAR, unit_cost DOUBLE,
        pack_size INTEGER, moq INTEGER, abc_class VARCHAR, {LINEAGE}""",
    "dealer_skus": f"""dealer_id VARCHAR, sku VARCHAR, service_level DOUBLE, min_qty DOUBLE,
        max_qty DOUBLE, active BOOLEAN, {LINEAGE}""",
    "file_ledger": """file_sha256 VARCHAR PRIMARY KEY, source_file VARCHAR, feed VARCHAR,
        status VARCHAR, size_bytes BIGINT, rows_read INTEGER, rows_accepted INTEGER,
        rows_quarantined INTEGER, reason VARCHAR, delivery_seq BIGINT, run_id VARCHAR,
        received_at TIMESTAMP""",
    "quarantine": """run_id VARCHAR, source_file VARCHAR, line INTEGER, rule VARCHAR,
        "column" VARCHAR, value VARCHAR, raw_record VARCHAR""",
    "approved_lines": """approval_id VARCHAR, run_id VARCHAR, as_of DATE, dealer_id VARCHAR,
        sku VARCHAR, suggested_qty DOUBLE, approved_qty DOUBLE, is_held BOOLEAN, note VARCHAR,
        approved_by VARCHAR, approved_at TIMESTAMP""",
}

PIPELINE_TABLES: dict[str, str] = {
    "runs": """run_id VARCHAR PRIMARY KEY, as_of DATE, status VARCHAR, started_at TIMESTAMP,
        finished_at TIMESTAMP, out_dir VARCHAR""",
    "stage_timings": "run_id VARCHAR, stage VARCHAR, seconds DOUBLE, rows BIGINT",
    "forecasts": """run_id VARCHAR, dealer_id VARCHAR, sku VARCHAR, week_start DATE, yhat DOUBLE,
        yhat_lo DOUBLE, yhat_hi DOUBLE, model VARCHAR""",
    "forecast_accuracy": """run_id VARCHAR, as_of DATE, dealer_id VARCHAR, sku VARCHAR,
        model VARCHAR, demand_class VARCHAR, mase DOUBLE, wape DOUBLE, bias DOUBLE,
        sigma DOUBLE, n_obs INTEGER""",
    "suggestions": """run_id VARCHAR, as_of DATE, dealer_id VARCHAR, sku VARCHAR, on_hand DOUBLE,
        in_transit DOUBLE, on_order DOUBLE, inventory_position DOUBLE, avg_daily_demand DOUBLE,
        demand_class VARCHAR, forecast_model VARCHAR, lead_time_days DOUBLE,
        lead_time_sd_days DOUBLE, review_period_days DOUBLE, protection_days DOUBLE,
        demand_over_protection DOUBLE, sigma_over_protection DOUBLE, service_level DOUBLE,
        z DOUBLE, safety_stock DOUBLE, order_up_to DOUBLE, raw_need DOUBLE, pack_size INTEGER,
        moq INTEGER, suggested_qty DOUBLE, reason VARCHAR""",
    "alerts": """run_id VARCHAR, as_of DATE, alert_type VARCHAR, severity VARCHAR,
        dealer_id VARCHAR, sku VARCHAR, metric DOUBLE, threshold DOUBLE, message VARCHAR""",
    "transfers": """run_id VARCHAR, as_of DATE, from_dealer_id VARCHAR, to_dealer_id VARCHAR,
        sku VARCHAR, qty DOUBLE, reason VARCHAR""",
    "dealer_kpis": """run_id VARCHAR, as_of DATE, dealer_id VARCHAR, days_of_inventory DOUBLE,
        slow_moving_share DOUBLE, sell_through_rate DOUBLE, stockout_days DOUBLE""",
}

# The feed tables whose rows carry lineage and can be rolled back per run.
FEED_TABLES = ("sell_through", "inventory", "shipments", "dealers", "skus", "dealer_skus")


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, creating its folder, schemas and Python-owned tables."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        ensure_schema(con)
    return con


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the `raw` and `pipeline` schemas and tables when missing (idempotent)."""
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists pipeline")
    for name, columns in RAW_TABLES.items():
        con.execute(f"create table if not exists raw.{name} ({columns})")
    for name, columns in PIPELINE_TABLES.items():
        con.execute(f"create table if not exists pipeline.{name} ({columns})")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing block: a crash or an exception inside leaves no partial rows."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    else:
        con.execute("commit")


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()[0]
    return bool(row and row[0])
