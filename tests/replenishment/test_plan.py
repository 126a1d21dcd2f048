"""replenishment.plan: the pure pieces the nightly replenish task wires together."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from replenishment.alerts import feed_lateness, stale_dealers
from replenishment.config import load_policy_config
from replenishment.plan import (
    exceptions_since,
    longest_protection_days,
    positions_with_staleness,
    protection_days,
)

CONFIG = load_policy_config()  # sell-through 3 days, inventory 7 days


def freshness() -> pd.DataFrame:
    rows = [
        # dealer, feed, last report, days since report
        ("D1", "sell_through", "2026-03-01", 1),  # fresh
        ("D1", "inventory", "2026-02-20", 10),  # 10 > 7: late
        ("D2", "sell_through", "2026-02-20", 10),  # 10 > 3: late
        ("D2", "inventory", "2026-02-28", 2),
        ("D3", "sell_through", None, None),  # never reported
        ("D3", "inventory", "2026-02-27", 3),
        ("D4", "shipments", "2020-01-01", 2000),  # no limit for this feed
    ]
    frame = pd.DataFrame(
        rows, columns=["dealer_id", "feed", "last_report_date", "days_since_report"]
    )
    frame["last_report_date"] = pd.to_datetime(frame["last_report_date"])
    return frame


def test_lateness_matches_the_configured_limits_row_by_row():
    lateness = feed_lateness(freshness(), CONFIG)
    assert lateness["limit"].tolist()[:4] == [3.0, 7.0, 3.0, 7.0]
    assert np.isinf(lateness["limit"].iloc[6])
    assert lateness["is_late"].tolist() == [False, True, True, False, True, False, False]
    assert lateness["never"].tolist() == [False] * 4 + [True] + [False] * 2


def test_stale_dealers_are_the_late_ones_with_a_report_and_their_worst_lag():
    stale = stale_dealers(freshness(), CONFIG).set_index("dealer_id")
    assert sorted(stale.index) == ["D1", "D2"]  # D3 never reported: alert only, no days late
    assert stale.loc["D1", "stale_days"] == 10
    assert stale.loc["D2", "stale_days"] == 10


def test_stale_dealers_follow_the_per_dealer_override(tmp_path):
    policy = tmp_path / "policy.yml"
    policy.write_text("freshness:\n  dealers:\n    D1: {inventory_days: 30}\n")
    stale = stale_dealers(freshness(), load_policy_config(policy))
    assert sorted(stale["dealer_id"]) == ["D2"]


def test_positions_carry_staleness_and_every_input_column():
    inputs = pd.DataFrame(
        {"dealer_id": ["D1", "D2", "D5"], "sku": ["S", "S", "S"], "on_hand": [1.0, 2.0, 3.0]}
    )
    out = positions_with_staleness(inputs, freshness(), CONFIG)
    assert list(out.columns[:3]) == ["dealer_id", "sku", "on_hand"]
    assert out["is_stale"].tolist() == [True, True, False]
    assert out["stale_days"].tolist() == [10, 10, 0]


def test_protection_and_horizon_days_by_hand():
    positions = pd.DataFrame(
        {
            "dealer_id": ["D1", "D2"],
            "sku": ["S", "T"],
            "lead_time_days": [10.0, 4.0],
            "lead_time_sd_days": [2.0, None],
            "review_period_days": [7, 14],
        }
    )
    assert protection_days(positions)["protection_days"].tolist() == [17.0, 18.0]
    # max(10 + 3*2 + 7, 4 + 3*0 + 14) = 23
    assert longest_protection_days(positions, 3) == 23.0
    assert longest_protection_days(positions.iloc[0:0], 3) is None


def test_sales_exceptions_window_is_four_weeks():
    assert exceptions_since(date(2026, 3, 29)) == date(2026, 3, 1)
