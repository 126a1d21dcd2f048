"""The forecast stage: weekly demand from the marts in, per-pair forecasts and accuracy out.

Weeks in which the dealer was out of stock are censored: what sold there is a floor, not the
demand, so they reach the forecaster as missing values (NaN), never as zeros.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

SEASON_LENGTH = 52
FREQ = "W-MON"
MIN_HORIZON_WEEKS = 13
ID_SEP = "|"
SERIES_PER_CHUNK = 400
# Below this many series, worker processes cost more to start than they save.
PARALLEL_MIN_SERIES = 1000


def load_weekly_history(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Long-format history (`unique_id, ds, y`) of every active pair, censored weeks as NaN."""
    frame = con.execute(
        """
        select w.dealer_id, w.sku, w.week_start, w.qty_sold, w.is_censored
        from marts.fct_weekly_demand w
        join marts.dim_dealer_skus p using (dealer_id, sku)
        where p.is_active
        order by w.dealer_id, w.sku, w.week_start
        """
    ).df()
    # A censored week that still sold more than nothing tells us little; treat as missing.
    y = frame["qty_sold"].astype(float).where(~frame["is_censored"].astype(bool), np.nan)
    return pd.DataFrame(
        {
            "unique_id": frame["dealer_id"] + ID_SEP + frame["sku"],
            "ds": pd.to_datetime(frame["week_start"]),
            "y": y,
        }
    )


def horizon_weeks(con: duckdb.DuckDBPyConnection) -> int:
    """Enough weeks to cover the longest protection interval (lead time + review period)."""
    row = con.execute(
        """select max(p.lead_time_days_used + 3 * coalesce(p.lead_time_sd_days_used, 0)
                      + d.review_period_days)
           from marts.dim_dealer_skus p join marts.dim_dealers d using (dealer_id)"""
    ).fetchall()[0]
    longest_days = float(row[0]) if row and row[0] is not None else 0.0
    return max(MIN_HORIZON_WEEKS, math.ceil(longest_days / 7) + 2)


def chunk_count(history: pd.DataFrame) -> int:
    """About SERIES_PER_CHUNK series per task: big enough to amortise a task, small enough to
    keep both cores busy to the end."""
    return max(1, math.ceil(history["unique_id"].nunique() / SERIES_PER_CHUNK))


def active_pair_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select count(*) from marts.dim_dealer_skus where is_active").fetchall()[0]
    return int(row[0]) if row else 0


def chunk_ids(history: pd.DataFrame, n_chunks: int) -> list[list[str]]:
    """Split the series ids into `n_chunks` lists of similar total length."""
    ids = history["unique_id"].drop_duplicates().tolist()
    n_chunks = max(1, min(n_chunks, len(ids)))
    return [ids[i::n_chunks] for i in range(n_chunks)]


def split_ids(frame: pd.DataFrame) -> pd.DataFrame:
    parts = frame["unique_id"].str.split(ID_SEP, n=1, expand=True, regex=False)
    frame = frame.copy()
    frame.insert(0, "dealer_id", parts[0])
    frame.insert(1, "sku", parts[1])
    return frame.drop(columns=["unique_id"])


def forecast_output(forecasts: pd.DataFrame) -> pd.DataFrame:
    """DESIGN's forecast.csv columns: dealer_id, sku, week_start, yhat, yhat_lo, yhat_hi, model."""
    out = split_ids(forecasts).rename(columns={"ds": "week_start"})
    out["week_start"] = pd.to_datetime(out["week_start"]).dt.date
    return out[["dealer_id", "sku", "week_start", "yhat", "yhat_lo", "yhat_hi", "model"]]


def daily_demand(
    forecasts: pd.DataFrame,
    diagnostics: pd.DataFrame,
    protection_days: pd.DataFrame,
    as_of: date,
) -> pd.DataFrame:
    """Per pair: mean daily rate over its protection interval, and per-day error sigma.

    The weekly forecast is spread evenly over its 7 days; demand over the protection interval
    is the sum of those daily rates for the days as_of+1 .. as_of+P (days before the first
    forecast week use the first week's rate). sigma_daily = weekly sigma / sqrt(7), taking days
    within a week as independent.
    """
    fc = split_ids(forecasts)
    fc["week_start"] = pd.to_datetime(fc["ds"])
    fc = fc.merge(protection_days, on=["dealer_id", "sku"], how="inner")
    start = pd.Timestamp(as_of) + timedelta(days=1)
    end = start + pd.to_timedelta(fc["protection_days"], unit="D")  # exclusive
    is_first = fc["week_start"] == fc.groupby(["dealer_id", "sku"])["week_start"].transform("min")
    # The first forecast week also covers any days between as_of and its Monday.
    begin = fc["week_start"].where(~is_first, fc["week_start"].clip(upper=start))
    begin = begin.clip(lower=start)
    week_end = fc["week_start"] + pd.Timedelta(days=7)
    finish = week_end.where(week_end < end, end)
    overlap_days = ((finish - begin).dt.total_seconds() / 86400).clip(lower=0)
    fc["units"] = fc["yhat"] / 7.0 * overlap_days
    totals = fc.groupby(["dealer_id", "sku"], as_index=False).agg(
        units=("units", "sum"), protection_days=("protection_days", "first")
    )
    totals["daily_rate"] = totals["units"] / totals["protection_days"].where(
        totals["protection_days"] > 0
    )
    diag = split_ids(diagnostics)
    diag["sigma_daily"] = diag["sigma"].astype(float) / math.sqrt(7.0)
    merged = totals.merge(
        diag[["dealer_id", "sku", "sigma_daily", "demand_class", "model"]],
        on=["dealer_id", "sku"],
        how="left",
    ).rename(columns={"model": "forecast_model"})
    merged["daily_rate"] = merged["daily_rate"].fillna(0.0)
    return merged[
        ["dealer_id", "sku", "daily_rate", "sigma_daily", "demand_class", "forecast_model"]
    ]


def accuracy_output(diagnostics: pd.DataFrame, run_id: str, as_of: date) -> pd.DataFrame:
    out = split_ids(diagnostics)
    out.insert(0, "run_id", run_id)
    out.insert(1, "as_of", as_of)
    return out[
        [
            "run_id",
            "as_of",
            "dealer_id",
            "sku",
            "model",
            "demand_class",
            "mase",
            "wape",
            "bias",
            "sigma",
            "n_obs",
        ]
    ]
