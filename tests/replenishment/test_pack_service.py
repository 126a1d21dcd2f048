"""Whole-unit and pack-adjusted levels: the maths against independent computations and a
closed loop.

Positions and demand are whole units. Ordering whole packs of ``q`` up to a level ``s`` leaves
the position on the ``q`` whole numbers from ``ceil(s)``, and whole-unit demand is served at
position ``k`` with probability ``Phi((k + 1/2 - D) / sigma_P)``, so the policy picks ``s`` for
the cycle service averaged over those positions and over the fraction ``ceil(s) - s``
(docs/replenishment.md, "The order-up-to policy", **Whole units and packs** and **Slow
movers**).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from replenishment.config import load_policy_config
from replenishment.policy import compute_suggestions
from tests.replenishment.whole_units import whole_unit_level, whole_unit_service

# The level maths as textbooks give it (customers wait); lost sales: tests/replenishment/
# test_lost_sales.py.
CONFIG = load_policy_config().model_copy(update={"unmet_demand": "backordered"})
AS_OF = date(2026, 3, 2)


def suggest(
    *,
    mean: float | np.ndarray,
    sigma: float,
    pack: int,
    service: float,
    on_hand: float | np.ndarray = 0.0,
    demand_class: str = "smooth",
    moq: int = 0,
) -> pd.DataFrame:
    """One pair per `on_hand` value with demand `mean` (sd `sigma`) over P = 0 lead + 7 review."""
    on_hand = np.atleast_1d(np.asarray(on_hand, dtype=float))
    skus = [f"S{i}" for i in range(len(on_hand))]
    positions = pd.DataFrame(
        {
            "dealer_id": "D001",
            "sku": skus,
            "on_hand": on_hand,
            "lead_time_days": 0.0,
            "review_period_days": 7.0,
            "pack_size": pack,
            "moq": moq,
            "service_level": service,
        }
    )
    demand = pd.DataFrame(
        {
            "dealer_id": "D001",
            "sku": skus,
            "daily_rate": np.asarray(mean, dtype=float) / 7,
            "sigma_daily": sigma / math.sqrt(7),
            "demand_class": demand_class,
            "forecast_model": "test",
        }
    )
    return compute_suggestions(positions, demand, CONFIG, run_id="r", as_of=AS_OF)


# --- normal demand ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mean", "sigma", "service"),
    [(28.0, 8.2158, 0.95), (120.0, 15.0, 0.90), (40.0, 3.0, 0.98), (15.0, 0.4, 0.90)],
)
def test_one_unit_packs_sit_one_unit_below_the_classic_level(mean, sigma, service):
    out = suggest(mean=mean, sigma=sigma, pack=1, service=service).iloc[0]
    classic = mean + stats.norm.ppf(service) * sigma
    level = out["order_up_to"]
    assert level == pytest.approx(whole_unit_level(mean, sigma, 1, service), abs=1e-6)
    assert out["safety_stock"] == pytest.approx(level - mean, abs=1e-9)
    if sigma >= 3:  # ceil(level) + 1/2 is one unit above the level on average
        assert level == pytest.approx(classic - 1, abs=0.05)
    assert "whole units)" in out["reason"]
    assert "pack-adjusted" not in out["reason"]
    assert out["z"] == pytest.approx(stats.norm.ppf(service))  # still the target's z


@pytest.mark.parametrize(
    ("mean", "sigma", "pack", "service"),
    [
        (28.0, 8.2158, 6, 0.95),
        (60.0, 9.0, 24, 0.90),
        (60.0, 9.0, 24, 0.98),
        (35.0, 3.0, 12, 0.90),  # a pack wider than the spread of demand: level below the mean
        (400.0, 60.0, 10, 0.95),
        (80.0, 20.0, 2, 0.90),
        (900.0, 70.0, 100, 0.95),
        (900.0, 70.0, 250, 0.90),
        (900.0, 70.0, 80, 0.98),
    ],
)
def test_level_meets_the_target_averaged_over_the_pack(mean, sigma, pack, service):
    out = suggest(mean=mean, sigma=sigma, pack=pack, service=service).iloc[0]
    level = out["order_up_to"]
    assert level == pytest.approx(whole_unit_level(mean, sigma, pack, service), abs=1e-6)
    assert whole_unit_service(level, mean, sigma, pack) == pytest.approx(service, abs=1e-9)
    # Lower than the classic level by about (pack + 1) / 2; the reason says why.
    classic = mean + stats.norm.ppf(service) * sigma
    assert classic - pack - 1 <= level < classic - 0.5
    assert f"pack-adjusted for packs of {pack})" in out["reason"]
    assert out["z"] == pytest.approx(stats.norm.ppf(service))  # still the target's z


def test_whole_unit_positions_meet_the_target_by_monte_carlo():
    # 2,000 pairs whose means differ by fractions of a unit, so their levels' fractions spread;
    # each cycle's position is a whole number from ceil(level) spread over the pack and its
    # demand a whole number: a fixed-seed Monte Carlo of the share served lands on the target.
    sigma, pack, service = 7.0, 12, 0.90
    rng = np.random.default_rng(11)
    means = 50.0 + rng.random(2_000)
    levels = suggest(mean=means, sigma=sigma, pack=pack, service=service, on_hand=0.0 * means)[
        "order_up_to"
    ].to_numpy()
    draws = 200
    position = np.ceil(levels)[:, None] + rng.integers(0, pack, (len(means), draws))
    demand = np.rint(rng.normal(means[:, None], sigma, (len(means), draws)))
    n = position.size
    assert np.mean(demand <= position) == pytest.approx(service, abs=4 * math.sqrt(0.09 / n))
    # The classic level, rounded up the same way, over-delivers.
    classic = np.ceil(means + stats.norm.ppf(service) * sigma)
    old = np.mean(demand <= classic[:, None] + rng.integers(0, pack, (len(means), draws)))
    assert old > service + 0.02


def test_no_forecast_error_keeps_the_forecast_as_the_level():
    out = suggest(mean=30.0, sigma=0.0, pack=12, service=0.95).iloc[0]
    assert out["order_up_to"] == pytest.approx(30.0)
    assert "pack-adjusted" not in out["reason"]
    assert "whole units" not in out["reason"]


def test_closed_loop_positions_spread_evenly_over_the_pack_and_meet_the_target():
    # 1,000 pairs reviewed weekly, lead time 0, whole-unit demand round(N(mean, sigma)) and
    # backorders; means differ by fractions of a unit. Positions after ordering spread evenly
    # over the q whole units from ceil(level), and the share of cycles served is the target.
    sigma, pack, service = 6.0, 10, 0.90
    rng = np.random.default_rng(5)
    pairs, reviews, burn_in = 1_000, 45, 5
    means = 40.0 + rng.random(pairs)
    on_hand = 40.0 + rng.integers(0, pack, pairs)
    after, served = [], []
    for week in range(reviews):
        out = suggest(mean=means, sigma=sigma, pack=pack, service=service, on_hand=on_hand)
        position = on_hand + out["suggested_qty"].to_numpy()
        demand = np.rint(rng.normal(means, sigma, pairs)).clip(min=0)
        if week >= burn_in:
            after.append(position - np.ceil(out["order_up_to"].to_numpy()))
            served.append(demand <= position)
        on_hand = position - demand
    offset = np.concatenate(after)
    share = np.bincount(offset.astype(int), minlength=pack) / offset.size
    assert offset.min() >= 0 and offset.max() <= pack - 1
    assert share == pytest.approx(np.full(pack, 1 / pack), abs=0.01)
    n = offset.size
    assert np.mean(served) == pytest.approx(service, abs=4 * math.sqrt(0.09 / n))


# --- count demand (slow movers) --------------------------------------------------------------


def brute_force_count_level(cdf, service: float, pack: int) -> tuple[int, float]:
    """Nearest-to-target of the smallest whole level reaching it and the level below."""

    def level_service(y: int) -> float:
        return float(np.mean([cdf(y + j) for j in range(pack)]))

    y = -pack - 5
    while level_service(y) < service:
        y += 1
    high, low = level_service(y), level_service(y - 1)
    return (y - 1, low) if abs(low - service) < abs(high - service) else (y, high)


@pytest.mark.parametrize(
    ("daily", "sigma_daily", "pack", "service"),
    [
        (0.2, 0.4, 1, 0.95),  # Poisson, mean 2.8 over 14 days
        (0.5, 0.5, 1, 0.90),  # Poisson, mean 7
        (0.3, 0.55, 4, 0.95),  # Poisson, packs of 4
        (0.6, 0.7, 6, 0.98),  # Poisson, packs of 6
        (0.2, 1.0, 1, 0.98),  # negative binomial, mean 2.8, variance 14
        (0.25, 1.2, 5, 0.90),  # negative binomial, packs of 5
        (0.05, 0.25, 12, 0.90),  # a pack far above demand: the level can be below zero
    ],
)
def test_count_level_is_the_whole_level_nearest_the_target(daily, sigma_daily, pack, service):
    positions = pd.DataFrame(
        [
            dict(dealer_id="D1", sku="S1", on_hand=0.0, lead_time_days=10.0, review_period_days=4)
            | dict(pack_size=pack, service_level=service)
        ]
    )
    demand = pd.DataFrame(
        [
            dict(dealer_id="D1", sku="S1", daily_rate=daily, sigma_daily=sigma_daily)
            | dict(demand_class="intermittent", forecast_model="croston")
        ]
    )
    out = compute_suggestions(positions, demand, CONFIG, run_id="r", as_of=AS_OF).iloc[0]
    mean, var = daily * 14, sigma_daily**2 * 14
    if var <= 1.2 * mean:
        cdf = stats.poisson(mean).cdf
        assert "Poisson" in out["reason"]
    else:
        cdf = stats.nbinom(mean**2 / (var - mean), mean / var).cdf
        assert "negative binomial" in out["reason"]
    level, achieved = brute_force_count_level(cdf, service, pack)
    assert out["order_up_to"] == level
    assert out["safety_stock"] == pytest.approx(level - mean)
    if pack > 1:
        assert f"gives {achieved * 100:.1f}% over packs of {pack}, the nearest to" in out["reason"]


def test_count_level_at_the_quantile_keeps_the_quantile_wording():
    # Mean 2.8, variance 14, 98 %: the 98 % quantile is also the nearest whole level.
    out = compute_suggestions(
        pd.DataFrame([dict(dealer_id="D1", sku="S1", on_hand=0.0, lead_time_days=10.0)]).assign(
            review_period_days=4, abc_class="A"
        ),
        pd.DataFrame([dict(dealer_id="D1", sku="S1", daily_rate=0.2, sigma_daily=1.0)]).assign(
            demand_class="lumpy", forecast_model="croston"
        ),
        CONFIG,
        run_id="r",
        as_of=AS_OF,
    ).iloc[0]
    assert "(negative binomial 98% quantile, variance 14)" in out["reason"]


def test_count_closed_loop_meets_the_level_service():
    # Poisson demand of mean 3 a week, packs of 4, lead time 0, backorders: the share of
    # weekly cycles served is the level's service averaged over the pack, as priced.
    mean, pack, service = 3.0, 4, 0.90
    rng = np.random.default_rng(8)
    pairs, reviews, burn_in = 1_000, 45, 5
    on_hand = rng.integers(0, 8, pairs).astype(float)
    served = []
    for week in range(reviews):
        out = suggest(
            mean=mean,
            sigma=math.sqrt(mean),
            pack=pack,
            service=service,
            on_hand=on_hand,
            demand_class="intermittent",
        )
        position = on_hand + out["suggested_qty"].to_numpy()
        demand = rng.poisson(mean, pairs)
        if week >= burn_in:
            served.append(demand <= position)
        on_hand = position - demand
    level, achieved = brute_force_count_level(stats.poisson(mean).cdf, service, pack)
    assert out["order_up_to"].iloc[0] == level
    n = pairs * (reviews - burn_in)
    assert np.mean(served) == pytest.approx(achieved, abs=4 * math.sqrt(0.09 / n))
    assert abs(achieved - service) < 0.03
