"""The closed loop by SKU lifecycle: groups, review-window sums, and a breakdown that adds up."""

from __future__ import annotations

import numpy as np

from replenishment.policy import sum_daily_path
from simulation.breakdown import GROUPS, lifecycle
from simulation.closed_loop import simulate

SMALL = dict(weeks=20, dealers=3, skus=20, seed=21)
NAT = np.datetime64("NaT", "D")


def test_lifecycle_reads_launch_then_decline_then_the_trend():
    launch = np.array(["2025-03-01", "NaT", "NaT", "NaT", "NaT", "2025-05-01"], "datetime64[D]")
    decline = np.array(["NaT", "2025-06-01", "NaT", "NaT", "NaT", "NaT"], "datetime64[D]")
    trend = np.array([0.3, 0.3, 0.25, -0.2, 0.0, -0.3])
    assert list(lifecycle(launch, decline, trend)) == [
        "launched", "dying", "rising", "falling", "flat", "launched",
    ]  # fmt: skip


def test_the_true_demand_is_summed_over_the_days_as_the_policy_sums_its_forecast():
    values = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 20.0, 30.0, 40.0, 50.0]])
    # row 0 from day 1: 2 + 3 + half of 4; row 1 from day 1: 20 + 30 + 40 + 0.25 * 50
    assert np.allclose(
        [sum_daily_path(row[1:], p) for row, p in zip(values, [2.5, 3.25], strict=True)],
        [7.0, 102.5],
    )
    # past the end of the world the last day repeats: 4 + 5 + 5 + 0.5 * 5
    assert np.allclose(sum_daily_path(values[0, 3:], 3.5), 16.5)


def test_the_oracle_breakdown_adds_up_to_the_run_and_reads_the_truth():
    result = simulate(**SMALL, forecaster="oracle", breakdown=True)
    groups = result["policy"]["by_lifecycle"]
    assert set(groups) <= set(GROUPS) and len(groups) >= 3
    cycles = sum(g["cycles"] for g in groups.values())
    short = sum(g["short_cycles"] for g in groups.values())
    assert cycles > 0 and result["series"] == sum(g["pairs"] for g in groups.values())
    assert result["policy"]["cycle_service_level"] == round(1 - short / cycles, 4)
    # The oracle's forecast is the true mean: over the very days the policy covered, no bias
    # (a window shifted by a day or cut to whole days would show one).
    assert all(g["forecast_bias"] == 0.0 for g in groups.values() if g["cycles"])
    # The breakdown only adds a key: the run itself is the same.
    plain = simulate(**SMALL, forecaster="oracle")
    assert {k: v for k, v in result["policy"].items() if k != "by_lifecycle"} == plain["policy"]
    assert "by_lifecycle" not in plain["policy"]


def test_a_real_forecast_shows_a_bias_the_oracle_does_not():
    groups = simulate(**SMALL, forecaster="ses", breakdown=True)["policy"]["by_lifecycle"]
    assert any(abs(g["forecast_bias"]) > 0.01 for g in groups.values() if g["cycles"])
