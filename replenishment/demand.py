"""Demand for the policy: weekly history into the forecaster, weekly forecasts into daily rates.

Pure functions of DataFrames (no I/O). Weeks in which the dealer was out of stock are censored:
what sold there is a floor on demand, and they reach the forecaster flagged as such.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd

SEASON_LENGTH = 52
FREQ = "W-MON"
MIN_HORIZON_WEEKS = 13
ID_SEP = "|"
# Extra lead-time standard deviations the forecast horizon covers beyond the mean lead time.
HORIZON_LEAD_TIME_SDS = 3
PROFILE_COLUMNS = ["dealer_id", "sku", "season_position", "factor"]
FORECAST_COLUMNS = ["dealer_id", "sku", "week_start", "yhat", "yhat_lo", "yhat_hi", "model"]
ACCURACY_COLUMNS = [
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


# Pooling keys of the seasonal profiles, outermost first: the SKU's category, then the dealer's
# region within it (forecasting pools network -> category -> category x region -> series).
GROUP_COLUMNS = ["category", "region"]


def forecast_groups(items: pd.DataFrame) -> pd.DataFrame:
    """`groups` for the forecaster: `unique_id` and the pooling keys of each dealer x SKU.

    `items` has `dealer_id, sku, category, region` (marts.fct_replenishment_inputs).
    """
    groups = pd.DataFrame({"unique_id": items["dealer_id"] + ID_SEP + items["sku"]})
    for column in GROUP_COLUMNS:
        groups[column] = items[column].fillna("unknown").astype(str).to_numpy()
    return groups.drop_duplicates("unique_id").reset_index(drop=True)


def forecast_history(weekly: pd.DataFrame) -> pd.DataFrame:
    """Long-format history (`unique_id, ds, y, censored`) from weekly demand rows.

    `weekly` has `dealer_id, sku, week_start, qty_sold, is_censored` (marts.fct_weekly_demand).
    A week with a stock-out day is censored: what sold is a lower bound on demand ("at least
    y"), which the forecaster unconstrains (forecasting/censoring.py) instead of reading it as
    the demand or throwing it away.
    """
    return pd.DataFrame(
        {
            "unique_id": weekly["dealer_id"] + ID_SEP + weekly["sku"],
            "ds": pd.to_datetime(weekly["week_start"]),
            "y": weekly["qty_sold"].astype(float),
            "censored": weekly["is_censored"].fillna(False).astype(bool),
        }
    )


def horizon_weeks(longest_protection_days: float | None) -> int:
    """Enough weeks to cover the longest protection interval (lead time + review period).

    `longest_protection_days` is the largest lead time + HORIZON_LEAD_TIME_SDS lead-time sd +
    review period over the pairs (None when there are none).
    """
    longest_days = float(longest_protection_days or 0.0)
    return max(MIN_HORIZON_WEEKS, math.ceil(longest_days / 7) + 2)


def split_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """`unique_id` ("dealer|sku") back into `dealer_id, sku` (an empty frame stays empty)."""
    parts = [str(uid).partition(ID_SEP) for uid in frame["unique_id"]]
    frame = frame.copy()
    frame.insert(0, "dealer_id", pd.Series([p[0] for p in parts], index=frame.index, dtype=object))
    frame.insert(1, "sku", pd.Series([p[2] for p in parts], index=frame.index, dtype=object))
    return frame.drop(columns=["unique_id"])


def forecast_output(forecasts: pd.DataFrame) -> pd.DataFrame:
    """DESIGN's forecast.csv columns: dealer_id, sku, week_start, yhat, yhat_lo, yhat_hi, model."""
    out = split_ids(forecasts).rename(columns={"ds": "week_start"})
    out["week_start"] = pd.to_datetime(out["week_start"]).dt.date
    return out[FORECAST_COLUMNS]


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


def profile_output(profiles: pd.DataFrame) -> pd.DataFrame:
    """seasonality.csv: the seasonal factors used per pair (pairs with a flat profile left out).

    `profiles` is `forecasting.seasonal_profiles`' frame: unique_id, season_position, factor.
    """
    seasonal = profiles.groupby("unique_id")["factor"].transform(lambda f: (f - 1).abs().max())
    out = split_ids(profiles[seasonal > 1e-9])
    return out[PROFILE_COLUMNS].reset_index(drop=True)


def accuracy_output(diagnostics: pd.DataFrame, run_id: str, as_of: date) -> pd.DataFrame:
    out = split_ids(diagnostics)
    out.insert(0, "run_id", run_id)
    out.insert(1, "as_of", as_of)
    return out[ACCURACY_COLUMNS]
