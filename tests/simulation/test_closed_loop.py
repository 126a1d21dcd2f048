"""Closed-loop simulation: JSON contract and directional claims that could fail."""

from __future__ import annotations

from functools import cache

import pytest
from scipy import stats

from simulation.closed_loop import baseline_curve, simulate

SMALL = dict(weeks=26, dealers=4, skus=30, seed=1)
METRICS = {
    "fill_rate",
    "cycle_service_level",
    "avg_on_hand_units",
    "avg_on_hand_value",
    "stockout_days",
}


@cache
def run(service_level: float, forecaster: str = "ses") -> dict:
    return simulate(**SMALL, service_level=service_level, forecaster=forecaster)


@cache
def curve() -> list[dict]:
    return baseline_curve([1.0, float(stats.norm.ppf(0.95)), 4.0, 8.0, 13.0], **SMALL)


def test_result_has_the_design_json_keys():
    result = run(0.95)
    assert set(result) == {"target_service_level", "weeks", "seed", "series", "policy", "baseline"}
    assert (result["target_service_level"], result["weeks"], result["seed"]) == (0.95, 26, 1)
    assert result["series"] > 0
    for side in ("policy", "baseline"):
        metrics = result[side]
        assert set(metrics) == METRICS
        assert 0 <= metrics["fill_rate"] <= 1
        assert 0 <= metrics["cycle_service_level"] <= 1
        assert metrics["avg_on_hand_units"] > 0 and metrics["avg_on_hand_value"] > 0
        assert isinstance(metrics["stockout_days"], int)


def test_same_seed_same_result_and_another_seed_another_world():
    assert simulate(**SMALL) == run(0.95)
    assert simulate(**{**SMALL, "seed": 2})["baseline"] != run(0.95)["baseline"]


def test_both_sides_see_the_same_draws():
    # Common random numbers: the baseline's run does not depend on what the policy did, and
    # the baseline alone at the same z (its curve) reproduces it exactly.
    assert run(0.95, "ses_flat")["baseline"] == run(0.95)["baseline"]
    at_95 = curve()[1]
    assert {k: at_95[k] for k in METRICS} == run(0.95)["baseline"]


def test_policy_maths_reach_the_target_when_demand_is_known():
    # The oracle forecaster hands the policy the true mean and spread: what remains is the
    # policy maths plus lead-time noise, whole units and lost sales (which only add service).
    low, high = run(0.90, "oracle")["policy"], run(0.98, "oracle")["policy"]
    assert 0.90 - 0.01 <= low["cycle_service_level"] <= 0.90 + 0.06
    assert high["cycle_service_level"] == pytest.approx(0.98, abs=0.02)
    assert high["avg_on_hand_value"] > low["avg_on_hand_value"]
    assert high["stockout_days"] < low["stockout_days"]


def test_policy_with_a_real_forecast_is_near_target_and_serves_more_than_the_baseline():
    result = run(0.95)
    policy, baseline = result["policy"], result["baseline"]
    assert policy["cycle_service_level"] == pytest.approx(0.95, abs=0.03)
    assert policy["fill_rate"] > baseline["fill_rate"] + 0.05
    assert policy["cycle_service_level"] > baseline["cycle_service_level"]
    assert policy["stockout_days"] < baseline["stockout_days"]


def test_raising_the_baselines_z_buys_fill_with_stock():
    points = curve()
    fills = [p["fill_rate"] for p in points]
    values = [p["avg_on_hand_value"] for p in points]
    assert fills == sorted(fills) and values == sorted(values)
    assert fills[0] < fills[-1] and values[0] < values[-1]


def test_at_the_policys_fill_the_baseline_needs_more_stock():
    # The bar: less stock at an equal or better fill rate. The baseline rung that
    # first fills at least as much as the policy must hold at least 15% more stock.
    policy = run(0.95)["policy"]
    matching = [p for p in curve() if p["fill_rate"] >= policy["fill_rate"]]
    assert matching, "the baseline never reaches the policy's fill rate"
    assert policy["avg_on_hand_value"] <= 0.85 * matching[0]["avg_on_hand_value"]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="service_level"):
        simulate(weeks=2, service_level=1.0)
    with pytest.raises(ValueError, match="forecaster"):
        simulate(weeks=2, forecaster="magic")
    with pytest.raises(ValueError, match="safety factors"):
        baseline_curve([-1.0], weeks=2)


def test_the_project_forecaster_can_drive_the_loop():
    result = simulate(weeks=5, dealers=2, skus=6, seed=3, forecaster="forecasting")
    assert set(result["policy"]) == METRICS
    assert result["policy"]["fill_rate"] > 0.5
