"""The replenish stage: marts + forecasts in, suggestions, alerts and transfers out.

This module only gathers inputs from the warehouse; the policy maths and the alert rules live
in `replenishment/` and take plain DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from replenishment.alerts import build_alerts
from replenishment.config import PolicyConfig
from replenishment.policy import compute_suggestions
from replenishment.rebalancing import suggest_transfers

CROSS_CHECK_DAYS = 28  # sales exceptions older than this were reported in earlier runs


@dataclass
class ReplenishOutputs:
    suggestions: pd.DataFrame
    alerts: pd.DataFrame
    transfers: pd.DataFrame


def load_positions(con: duckdb.DuckDBPyConnection, config: PolicyConfig) -> pd.DataFrame:
    """One row per active pair: stock position, lead times, pack data, overrides, staleness."""
    positions = con.execute(
        """
        select p.dealer_id, p.sku, p.on_hand, p.in_transit, p.on_order, p.backorders,
               ds.lead_time_days_used as lead_time_days,
               ds.lead_time_sd_days_used as lead_time_sd_days,
               d.review_period_days, d.region,
               s.pack_size, s.moq, s.unit_cost, s.abc_class,
               ds.service_level, ds.min_qty, ds.max_qty
        from marts.fct_inventory_position p
        join marts.dim_dealers d using (dealer_id)
        join marts.dim_skus s using (sku)
        join marts.dim_dealer_skus ds using (dealer_id, sku)
        where ds.is_active
        order by p.dealer_id, p.sku
        """
    ).df()
    freshness = load_freshness(con)
    stale = stale_dealers(freshness, config)
    positions = positions.merge(stale, on="dealer_id", how="left")
    positions["is_stale"] = positions["is_stale"].fillna(False).astype(bool)
    positions["stale_days"] = positions["stale_days"].fillna(0).astype(int)
    return positions


def load_freshness(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "select dealer_id, feed, last_report_date, days_since_report "
        "from marts.fct_feed_freshness order by dealer_id, feed"
    ).df()


def stale_dealers(freshness: pd.DataFrame, config: PolicyConfig) -> pd.DataFrame:
    """Dealers with any feed older than its threshold, with the worst days late."""
    if freshness.empty:
        return pd.DataFrame(columns=["dealer_id", "is_stale", "stale_days"])
    limits = freshness.apply(
        lambda r: config.freshness_threshold(r["dealer_id"], r["feed"]), axis=1
    )
    late = freshness[freshness["days_since_report"] > limits]
    worst = late.groupby("dealer_id", as_index=False)["days_since_report"].max()
    worst = worst.rename(columns={"days_since_report": "stale_days"})
    worst["is_stale"] = True
    return worst


def protection_days(positions: pd.DataFrame) -> pd.DataFrame:
    out = positions[["dealer_id", "sku"]].copy()
    out["protection_days"] = positions["lead_time_days"].astype(float) + positions[
        "review_period_days"
    ].astype(float)
    return out


def replenish(
    con: duckdb.DuckDBPyConnection,
    positions: pd.DataFrame,
    demand: pd.DataFrame,
    accuracy: pd.DataFrame,
    rejected_files: pd.DataFrame,
    config: PolicyConfig,
    *,
    run_id: str,
    as_of: date,
) -> ReplenishOutputs:
    suggestions = compute_suggestions(positions, demand, config, run_id=run_id, as_of=as_of)
    since = as_of - timedelta(days=CROSS_CHECK_DAYS)
    sales_exceptions = con.execute(
        "select * from marts.fct_sales_exceptions where date > ?", [since]
    ).df()
    last_sales = con.execute(
        "select dealer_id, sku, first_sale_date, last_sale_date from marts.dim_dealer_skus "
        "where is_active"
    ).df()
    alerts = build_alerts(
        suggestions,
        freshness=load_freshness(con),
        sales_exceptions=sales_exceptions,
        rejected_files=rejected_files,
        accuracy=accuracy,
        last_sales=last_sales,
        config=config,
        run_id=run_id,
        as_of=as_of,
    )
    dealers = con.execute("select * from marts.dim_dealers").df()
    transfers = suggest_transfers(suggestions, dealers, config)
    transfers.insert(0, "run_id", run_id)
    transfers.insert(1, "as_of", as_of)
    return ReplenishOutputs(suggestions=suggestions, alerts=alerts, transfers=transfers)
