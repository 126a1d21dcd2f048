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
