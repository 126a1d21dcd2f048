"""From weekly forecasts to the daily rate over each pair's protection interval."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from replenishment.demand import daily_demand


def test_daily_rate_spreads_weeks_over_the_protection_interval():
    # as_of is Wednesday 2026-11-25; the first forecast week starts Monday 2026-11-30.
    weeks = pd.to_datetime(["2026-11-30", "2026-12-07", "2026-12-14"])
    forecasts = pd.DataFrame(
        {
            "unique_id": "D1|S1",
            "ds": weeks,
            "yhat": [70.0, 14.0, 700.0],
            "yhat_lo": 0.0,
            "yhat_hi": 0.0,
            "model": "m",
        }
    )
    diagnostics = pd.DataFrame(
        {
            "unique_id": ["D1|S1"],
            "model": ["m"],
            "demand_class": ["smooth"],
            "sigma": [7.0],
            "mase": [1.0],
            "wape": [0.1],
            "bias": [0.0],
            "n_obs": [50],
            "adi": [1.0],
            "cv2": [0.1],
        }
    )
    protection = pd.DataFrame({"dealer_id": ["D1"], "sku": ["S1"], "protection_days": [12.0]})
    out = daily_demand(forecasts, diagnostics, protection, date(2026, 11, 25))
    # Days 11-26 .. 12-07: 11-26..11-29 (4 days, first week's rate 10/day) + 11-30..12-06
    # (7 days at 10/day) + 12-07 (1 day at 2/day) = 40 + 70 + 2 = 112 over 12 days.
    row = out.iloc[0]
    assert row["daily_rate"] == pytest.approx(112 / 12)
    assert row["sigma_daily"] == pytest.approx(7.0 / 7**0.5)
    assert row["forecast_model"] == "m" and row["demand_class"] == "smooth"


def test_forecast_history_keeps_stockout_sales_as_lower_bounds():
    from replenishment.demand import forecast_history

    weekly = pd.DataFrame(
        {
            "dealer_id": ["D1", "D1", "D2"],
            "sku": ["S1", "S1", "S1"],
            "week_start": ["2026-01-05", "2026-01-12", "2026-01-05"],
            "qty_sold": [4, 9, 0],
            "is_censored": [False, True, None],
        }
    )
    history = forecast_history(weekly)
    assert history["unique_id"].tolist() == ["D1|S1", "D1|S1", "D2|S1"]
    assert history["y"].tolist() == [4.0, 9.0, 0.0]  # the stock-out week's sale is kept
    assert history["censored"].tolist() == [False, True, False]


def test_groups_and_published_profiles():
    from replenishment.demand import forecast_groups, profile_output

    items = pd.DataFrame(
        {"dealer_id": ["D1", "D2"], "sku": ["S1", "S1"], "category": ["tools", None],
         "region": ["north", "south"]}
    )  # fmt: skip
    groups = forecast_groups(items)
    assert groups.to_dict("records") == [
        {"unique_id": "D1|S1", "category": "tools", "region": "north"},
        {"unique_id": "D2|S1", "category": "unknown", "region": "south"},
    ]
    profiles = pd.DataFrame(
        {"unique_id": ["D1|S1", "D1|S1", "D2|S1", "D2|S1"], "season_position": [0, 1, 0, 1],
         "factor": [1.2, 0.8, 1.0, 1.0]}
    )  # fmt: skip
    out = profile_output(profiles)  # the flat profile of D2 is left out
    assert out.to_dict("records") == [
        {"dealer_id": "D1", "sku": "S1", "season_position": 0, "factor": 1.2},
        {"dealer_id": "D1", "sku": "S1", "season_position": 1, "factor": 0.8},
    ]


def test_no_seasonal_pair_publishes_an_empty_profile_table():
    from replenishment.demand import PROFILE_COLUMNS, profile_output

    flat = pd.DataFrame({"unique_id": ["D1|S1"] * 2, "season_position": [0, 1], "factor": 1.0})
    out = profile_output(flat)
    assert out.empty and list(out.columns) == PROFILE_COLUMNS
