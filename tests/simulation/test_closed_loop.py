"""Closed-loop simulation: JSON contract, common random numbers and directional claims.

The statistical claims run with the fast `ses` and `oracle` forecasters on a small world; the
production forecaster (the default) is tested in test_production_path.py, and its figures
live in benchmarks/bench_simulation.py.
"""

from __future__ import annotations

from functools import cache

import pytest
from scipy import stats

from simulation.closed_loop import baseline_at_fill, baseline_curve, simulate

SMALL = dict(weeks=26, dealers=4, skus=30, seed=1)
METRICS = {
    "fill_rate",
    "cycle_service_level",
    "avg_on_hand_units",
    "avg_on_hand_value",
    "stockout_days",
    "bullwhip_ratio",
    "bullwhip_ratio_sell_through",
}
DESIGN_KEYS = {
    "target_service_level",
    "weeks",
    "seed",
    "series",
    "forecaster",
    "baseline_z",
    "policy",
    "baseline",
}
Z_95 = float(stats.norm.ppf(0.95))


@cache
def run(service_level: float, forecaster: str = "ses", baseline_z: float | None = None) -> dict:
    return simulate(
        **SMALL, service_level=service_level, forecaster=forecaster, baseline_z=baseline_z
    )


@cache
def curve() -> list[dict]:
    return baseline_curve([1.0, Z_95, 4.0, 8.0, 13.0], **SMALL)


def test_result_has_the_design_json_keys():
    result = run(0.95)
    assert set(result) == DESIGN_KEYS
    assert (result["target_service_level"], result["weeks"], result["seed"]) == (0.95, 26, 1)
    assert (result["forecaster"], result["baseline_z"]) == ("ses", round(Z_95, 4))
    assert result["series"] > 0
    for side in ("policy", "baseline"):
        metrics = result[side]
        assert set(metrics) == METRICS
        assert 0 <= metrics["fill_rate"] <= 1
        assert 0 <= metrics["cycle_service_level"] <= 1
        assert metrics["avg_on_hand_units"] > 0 and metrics["avg_on_hand_value"] > 0
        assert isinstance(metrics["stockout_days"], int)
        assert metrics["bullwhip_ratio"] > 0


def test_same_seed_same_result_and_another_seed_another_world():
    assert simulate(**SMALL, forecaster="ses") == run(0.95)
    assert simulate(**{**SMALL, "seed": 2}, forecaster="ses")["baseline"] != run(0.95)["baseline"]


def test_both_sides_see_the_same_draws():
    # Common random numbers: the baseline's run does not depend on what the policy did, and
    # the baseline alone at the same z (its curve) reproduces it exactly.
    assert run(0.95, "ses_flat")["baseline"] == run(0.95)["baseline"]
    at_95 = curve()[1]
    assert {k: at_95[k] for k in METRICS} == run(0.95)["baseline"]


def test_baseline_z_changes_the_baseline_only():
    # --baseline-z traces the baseline's stock-versus-fill curve: the policy run is untouched
    # and the baseline is exactly its curve's point at that z.
    default, raised = run(0.95), run(0.95, baseline_z=4.0)
    assert raised["policy"] == default["policy"]
    assert raised["baseline_z"] == 4.0 and raised["target_service_level"] == 0.95
    assert raised["baseline"] == {k: curve()[2][k] for k in METRICS}
    assert raised["baseline"]["fill_rate"] > default["baseline"]["fill_rate"]
    assert raised["baseline"]["avg_on_hand_value"] > default["baseline"]["avg_on_hand_value"]


def test_the_baseline_tuned_to_a_fill_rate_reaches_it():
    target = curve()[2]["fill_rate"]  # what z = 4 fills: some z <= 4 fills as much
    tuned = baseline_at_fill(target, tolerance=5e-4, **SMALL)
    assert tuned["reached"] and tuned["fill_rate"] >= target - 5e-4
    # Fill rises with z only up to whole units, so the bisection may end a little above z = 4.
    assert curve()[1]["fill_rate"] < target - 5e-4 and Z_95 < tuned["z"] < 4.5
    again = baseline_curve([tuned["z"]], **SMALL)[0]
    assert {k: again[k] for k in METRICS} == {k: tuned[k] for k in METRICS}
    assert not baseline_at_fill(1.0, z_max=0.5, **SMALL)["reached"]


def test_policy_maths_reach_the_target_when_demand_is_known():
    # The oracle forecaster hands the policy the true mean and spread: what remains is the
    # policy maths plus lead-time noise, whole units and lost sales (which only add service).
    low, high = run(0.90, "oracle")["policy"], run(0.98, "oracle")["policy"]
    assert 0.90 - 0.01 <= low["cycle_service_level"] <= 0.90 + 0.06
    assert high["cycle_service_level"] == pytest.approx(0.98, abs=0.02)
    assert high["avg_on_hand_value"] > low["avg_on_hand_value"]
    assert high["stockout_days"] < low["stockout_days"]


def test_policy_with_the_ses_forecast_is_near_target_and_serves_more_than_the_baseline():
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
    with pytest.raises(ValueError, match="baseline_z"):
        simulate(weeks=2, baseline_z=-1.0)
    with pytest.raises(ValueError, match="baseline_z"):
        simulate(weeks=2, baseline_z=float("nan"))
    with pytest.raises(ValueError, match="refit_weeks"):
        simulate(weeks=2, refit_weeks=0)
    with pytest.raises(ValueError, match="safety factors"):
        baseline_curve([-1.0], weeks=2)
