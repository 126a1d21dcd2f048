"""Closed-loop simulation: JSON contract and directional claims that could fail."""

from __future__ import annotations

from functools import cache

import pytest

from replenishment.simulation import simulate

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


def test_same_seed_same_result():
    assert simulate(**SMALL) == run(0.95)


def test_policy_maths_reach_the_target_when_demand_is_known():
    # The oracle forecaster hands the policy the true mean and spread: what remains is the
    # policy maths plus lead-time noise, so the cycle service level should land on target.
    low, high = run(0.90, "oracle")["policy"], run(0.97, "oracle")["policy"]
    assert low["cycle_service_level"] == pytest.approx(0.90, abs=0.05)
    assert high["cycle_service_level"] == pytest.approx(0.97, abs=0.03)
    assert high["cycle_service_level"] > low["cycle_service_level"]
    assert high["avg_on_hand_value"] > low["avg_on_hand_value"]
    assert high["stockout_days"] < low["stockout_days"]


def test_policy_with_a_real_forecast_is_near_target_and_beats_the_baseline():
    result = run(0.95)
    policy, baseline = result["policy"], result["baseline"]
    assert policy["cycle_service_level"] == pytest.approx(0.95, abs=0.06)
    assert policy["fill_rate"] > baseline["fill_rate"] + 0.05
    assert policy["cycle_service_level"] > baseline["cycle_service_level"]
    assert policy["stockout_days"] < baseline["stockout_days"]


def test_at_the_baselines_own_service_the_policy_serves_more_for_little_more_stock():
    baseline = run(0.95)["baseline"]
    target = round(max(0.51, baseline["cycle_service_level"]), 2)
    policy = run(target)["policy"]
    assert policy["fill_rate"] > baseline["fill_rate"]
    assert policy["stockout_days"] < baseline["stockout_days"]
    assert policy["avg_on_hand_value"] <= 1.25 * baseline["avg_on_hand_value"]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="service_level"):
        simulate(weeks=2, service_level=1.0)
    with pytest.raises(ValueError, match="forecaster"):
        simulate(weeks=2, forecaster="magic")


def test_the_project_forecaster_can_drive_the_loop():
    result = simulate(weeks=5, dealers=2, skus=6, seed=3, forecaster="forecasting")
    assert set(result["policy"]) == METRICS
    assert result["policy"]["fill_rate"] > 0.5
