"""Lost sales before an order arrives (`replenishment.lost_sales`, `unmet_demand: lost`).

The lost-sales level solves ``P(D_R + min(D_L, IP) <= y) = target``; here that probability is
computed independently, from scipy's bivariate normal cdf of ``(D_L, D_L + D_R)``, and the
premise (a cycle starts with ``Q + (IP - D_L)^+``) is checked by simulating cycles.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from replenishment.config import ConfigError, load_policy_config
from replenishment.lost_sales import lost_sales_credit
from replenishment.policy import compute_suggestions

LOST = load_policy_config()
BACKORDERED = LOST.model_copy(update={"unmet_demand": "backordered"})


def lost_sales_service(y, mu_l, s_l, mu_r, s_r, position) -> float:
    """``P(D_R + min(D_L, IP+) <= y)`` = ``P(D_L <= IP+, D_L + D_R <= y)`` (a bivariate normal
    cdf) ``+ P(D_L > IP+) P(D_R <= y - IP+)``."""
    cap = max(position, 0.0)
    s_total = math.hypot(s_l, s_r)
    joint = stats.multivariate_normal(
        mean=[mu_l, mu_l + mu_r],
        cov=[[s_l**2, s_l**2], [s_l**2, s_total**2]],
        abseps=1e-10,
        releps=1e-10,
    ).cdf([cap, y])
    return joint + stats.norm.sf(cap, mu_l, s_l) * stats.norm.cdf(y - cap, mu_r, s_r)


def credit(mu_l, s_l, mu_r, s_r, position, target) -> float:
    return float(
        lost_sales_credit(
            np.array([mu_l]), np.array([s_l]), np.array([mu_r]), np.array([s_r]),
            np.array([position]), np.array([target]),
        )[0]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mu_l", "s_l", "mu_r", "s_r", "position", "target"),
    [
        (7.0, 3.0, 14.0, 4.0, 5.0, 0.90),
        (7.0, 3.0, 14.0, 4.0, 0.0, 0.95),
        (20.0, 6.0, 8.0, 3.5, 16.0, 0.98),  # lead time longer than the review period
        (3.0, 2.5, 30.0, 9.0, 1.0, 0.90),
        (50.0, 12.0, 50.0, 12.0, 60.0, 0.95),
    ],
)
def test_the_level_meets_the_target_under_lost_sales(mu_l, s_l, mu_r, s_r, position, target):
    backorder_level = mu_l + mu_r + stats.norm.ppf(target) * math.hypot(s_l, s_r)
    c = credit(mu_l, s_l, mu_r, s_r, position, target)
    assert c > 0.01
    level = backorder_level - c
    assert lost_sales_service(level, mu_l, s_l, mu_r, s_r, position) == pytest.approx(
        target, abs=1e-6
    )
    # The backorder level over-delivers when sales are lost.
    assert lost_sales_service(backorder_level, mu_l, s_l, mu_r, s_r, position) > target + 0.002


def test_simulated_cycles_starting_with_what_the_lead_time_left_reach_the_target():
    mu_l, s_l, mu_r, s_r, position, target = 7.0, 3.0, 14.0, 4.0, 4.0, 0.90
    level = mu_l + mu_r + stats.norm.ppf(target) * math.hypot(s_l, s_r)
    level -= credit(mu_l, s_l, mu_r, s_r, position, target)
    rng = np.random.default_rng(5)
    lead, review = rng.normal(mu_l, s_l, 400_000), rng.normal(mu_r, s_r, 400_000)
    order = level - position
    at_arrival = order + np.clip(position - lead, 0.0, None)  # lead-time demand beyond: lost
    served = np.mean(review <= at_arrival)
    assert served == pytest.approx(target, abs=0.002)  # 4 sd of 400,000 cycles


def test_credit_shrinks_to_zero_as_the_position_rises_and_ignores_backorders():
    args = (7.0, 3.0, 14.0, 4.0)
    credits = [credit(*args, p, 0.95) for p in (0.0, 3.0, 6.0, 9.0, 14.0, 40.0)]
    assert all(a > b for a, b in zip(credits[:-2], credits[1:-1], strict=True))
    assert credits[-1] == 0.0  # P(D_L > 40) is below 1e-9
    # A negative position (backorders) is served first from what arrives: no more is lost.
    assert credit(*args, -5.0, 0.95) == pytest.approx(credits[0], abs=1e-9)


def test_closed_forms_without_spread():
    # Lead-time demand known: exactly what exceeds the position is lost.
    assert credit(7.0, 0.0, 14.0, 4.0, 3.0, 0.95) == pytest.approx(4.0)
    assert credit(7.0, 0.0, 14.0, 4.0, 9.0, 0.95) == 0.0
    # Review-period demand known: the lead-time quantile beyond the position.
    q = 7.0 + stats.norm.ppf(0.95) * 3.0
    assert credit(7.0, 3.0, 14.0, 0.0, 3.0, 0.95) == pytest.approx(q - 3.0)


def _suggest(config, on_hand: float, review_days: int = 14, on_order: float = 0.0) -> pd.Series:
    positions = pd.DataFrame(
        {"dealer_id": ["D1"], "sku": ["S1"], "on_hand": [on_hand], "on_order": [on_order],
         "lead_time_days": [7.0], "lead_time_sd_days": [1.5],
         "review_period_days": [review_days], "abc_class": ["B"]}
    )  # fmt: skip
    demand = pd.DataFrame(
        {"dealer_id": ["D1"], "sku": ["S1"], "daily_rate": [3.0], "sigma_daily": [2.0],
         "demand_class": ["smooth"], "forecast_model": ["ets"]}
    )  # fmt: skip
    out = compute_suggestions(positions, demand, config, run_id="r", as_of=date(2026, 3, 2))
    return out.iloc[0]


def test_the_policy_orders_the_credit_less_and_says_so():
    lost, backordered = _suggest(LOST, 4.0), _suggest(BACKORDERED, 4.0)
    # d = 3, sigma_d = 2, L = 7 (sd 1.5), R = 14: D_L ~ N(21, sqrt(7*4 + 9*2.25)),
    # D_R ~ N(42, sqrt(14*4)); the lost-sales level found here by root-finding.
    s_l, s_r = math.sqrt(7 * 4 + 9 * 2.25), math.sqrt(14 * 4)
    y_b = 63 + stats.norm.ppf(0.95) * math.hypot(s_l, s_r)
    y_s = optimize.brentq(
        lambda y: lost_sales_service(y, 21.0, s_l, 42.0, s_r, 4.0) - 0.95, y_b - 40, y_b
    )
    # The level (which alerts, transfers and the portal read) stands; the need drops.
    assert lost["order_up_to"] == backordered["order_up_to"]
    assert lost["safety_stock"] == backordered["safety_stock"]
    assert backordered["raw_need"] == pytest.approx(backordered["order_up_to"] - 4.0)
    assert lost["raw_need"] == pytest.approx(backordered["raw_need"] - (y_b - y_s), abs=1e-5)
    assert lost["suggested_qty"] == math.ceil(lost["raw_need"]) < backordered["suggested_qty"]
    assert f"; lost-sales credit {y_b - y_s:.1f} (lead-time demand beyond" in lost["reason"]
    assert "lost-sales credit" not in backordered["reason"]


def test_stock_on_order_is_not_on_the_shelf_and_an_approved_order_is_not_ordered_again():
    shelf, ordered = _suggest(LOST, 4.0), _suggest(LOST, 0.0, on_order=4.0)
    assert shelf["inventory_position"] == ordered["inventory_position"] == 4
    # Four units on order arrive with the new order: they serve none of the lead time.
    assert ordered["raw_need"] < shelf["raw_need"]
    assert ordered["raw_need"] == pytest.approx(_suggest(LOST, 0.0)["raw_need"] - 4.0)
    # The next night, the first night's order approved and not yet shipped: nothing more.
    again = _suggest(LOST, 4.0, on_order=float(shelf["suggested_qty"]))
    assert again["raw_need"] == 0 and again["suggested_qty"] == 0


def test_a_credit_that_covers_the_gap_orders_nothing_and_says_why():
    # A very uncertain lead time (3 days, sd 5) and a 1-day review: the position of 38 sits
    # just under the order-up-to of 39, and what it may lose before arrival is not owed.
    positions = pd.DataFrame(
        {"dealer_id": ["D1"], "sku": ["S1"], "on_hand": [38.0], "lead_time_days": [3.0],
         "lead_time_sd_days": [5.0], "review_period_days": [1], "abc_class": ["B"]}
    )  # fmt: skip
    demand = pd.DataFrame(
        {"dealer_id": ["D1"], "sku": ["S1"], "daily_rate": [3.0], "sigma_daily": [4.0],
         "demand_class": ["smooth"], "forecast_model": ["ets"]}
    )  # fmt: skip
    row = compute_suggestions(positions, demand, LOST, run_id="r", as_of=date(2026, 3, 2)).iloc[0]
    assert row["inventory_position"] == 38 < row["order_up_to"]
    assert row["raw_need"] == 0 and row["suggested_qty"] == 0
    assert row["reason"].startswith("No order: order-up-to 39 = ")
    assert "; lost-sales credit " in row["reason"]


def test_a_position_far_above_lead_time_demand_orders_as_if_backordered():
    # D_L ~ N(21, 6.9): P(D_L > 80) is about 1e-17; over 7 + 28 days the order-up-to is 124.
    lost, backordered = _suggest(LOST, 80.0, 28), _suggest(BACKORDERED, 80.0, 28)
    assert lost["order_up_to"] == backordered["order_up_to"]
    assert lost["suggested_qty"] == backordered["suggested_qty"] > 0
    assert lost["reason"] == backordered["reason"]


def test_unknown_unmet_demand_is_refused(tmp_path):
    path = tmp_path / "policy.yml"
    path.write_text("unmet_demand: waits\n")
    with pytest.raises(ConfigError, match="unmet_demand"):
        load_policy_config(path)
