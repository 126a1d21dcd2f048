"""`vmi simulate`'s bullwhip ratios, recomputed with numpy from the simulated series."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from replenishment.config import load_policy_config
from simulation import closed_loop
from simulation.command import bullwhip_line

SMALL = dict(weeks=26, dealers=3, skus=20, seed=3, warmup_weeks=52)


def pooled_ratio(shipped_weekly: np.ndarray, basis_daily: np.ndarray) -> float:
    """sum over pairs of var(weekly shipments) / sum over pairs of var(weekly basis), the
    weeks built one by one from the days."""
    n_weeks = shipped_weekly.shape[1]
    weekly = np.stack(
        [basis_daily[:, 7 * w : 7 * w + 7].sum(axis=1) for w in range(n_weeks)], axis=1
    )
    top = sum(np.var(row) for row in shipped_weekly.astype(float))
    bottom = sum(np.var(row) for row in weekly.astype(float))
    return top / bottom


@pytest.fixture(scope="module")
def played():
    sim = closed_loop._build(**{k: SMALL[k] for k in ("weeks", "dealers", "skus", "seed")},
                             warmup_weeks=SMALL["warmup_weeks"])  # fmt: skip
    # weeks counts the settling weeks too (the loop's length); only the measured ones count.
    model = closed_loop.FORECASTERS["ses"](sim)
    orders = closed_loop._policy_orders(sim, model, load_policy_config(), 0.95)
    out = {}
    for side, rule, observe in (
        ("policy", orders, model.update),
        ("baseline", closed_loop._baseline_orders(sim, float(stats.norm.ppf(0.95))), None),
    ):
        record: dict = {}
        metrics = closed_loop._run(sim, rule, observe, record)
        out[side] = (metrics, record)
    return sim, out


@pytest.mark.parametrize("side", ["policy", "baseline"])
def test_bullwhip_ratios_match_numpy_on_the_simulated_series(played, side):
    sim, out = played
    metrics, record = out[side]
    first_week = sim.settle
    shipped = record["shipped"][:, first_week:]
    sold = record["sold"][:, 7 * first_week :]
    demand = sim.demand[:, 7 * first_week : 7 * sim.weeks]
    assert shipped.shape[1] == SMALL["weeks"]
    assert metrics["bullwhip_ratio_sell_through"] == pytest.approx(
        pooled_ratio(shipped, sold), abs=5e-4
    )
    assert metrics["bullwhip_ratio"] == pytest.approx(pooled_ratio(shipped, demand), abs=5e-4)
    # The two differ by the lost sales: sell-out is demand capped by the shelf.
    assert (sold <= demand).all() and (sold < demand).any()


def test_simulate_reports_both_ratios_and_the_closing_note_says_by_how_much():
    result = closed_loop.simulate(**SMALL, forecaster="ses")
    for side in ("policy", "baseline"):
        assert result[side]["bullwhip_ratio_sell_through"] > 0
    policy = result["policy"]["bullwhip_ratio_sell_through"]
    baseline = result["baseline"]["bullwhip_ratio_sell_through"]
    line = bullwhip_line(result)
    change = 1 - policy / baseline
    assert f"policy {policy:.2f}, baseline {baseline:.2f}" in line
    assert f"{'damps' if change >= 0 else 'amplifies'} it by {abs(change):.0%}" in line


def test_closing_note_when_sell_through_never_varies():
    flat = {"policy": {"bullwhip_ratio_sell_through": None}, "baseline": {}}
    assert "n/a" in bullwhip_line(flat)
    damped = {
        "policy": {"bullwhip_ratio_sell_through": 0.5},
        "baseline": {"bullwhip_ratio_sell_through": 2.0},
    }
    assert bullwhip_line(damped).endswith("policy 0.50, baseline 2.00; the policy damps it by 75%")
