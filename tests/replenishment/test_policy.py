"""Order-up-to policy: maths against scipy and hand-worked numbers, rounding properties."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from replenishment.config import load_policy_config
from replenishment.policy import compute_suggestions
from tests.replenishment.whole_units import whole_unit_level

# The level maths as textbooks give it (customers wait); lost sales: tests/replenishment/
# test_lost_sales.py.
CONFIG = load_policy_config().model_copy(update={"unmet_demand": "backordered"})
AS_OF = date(2026, 3, 2)
# DESIGN.md suggestions.csv, in order.
DESIGN_COLUMNS = (
    "run_id, as_of, dealer_id, sku, on_hand, in_transit, on_order, inventory_position, "
    "avg_daily_demand, demand_class, forecast_model, lead_time_days, lead_time_sd_days, "
    "review_period_days, protection_days, demand_over_protection, sigma_over_protection, "
    "service_level, z, safety_stock, order_up_to, raw_need, pack_size, moq, suggested_qty, reason"
).split(", ")


def position(**overrides) -> dict:
    row = dict(
        dealer_id="D001",
        sku="S1",
        on_hand=10.0,
        in_transit=0.0,
        on_order=0.0,
        backorders=0.0,
        lead_time_days=10.0,
        lead_time_sd_days=0.0,
        review_period_days=4,
        pack_size=1,
        moq=0,
        unit_cost=5.0,
        abc_class="B",
        service_level=np.nan,
        min_qty=np.nan,
        max_qty=np.nan,
        is_stale=False,
        stale_days=0,
    )
    row.update(overrides)
    return row


def demand(**overrides) -> dict:
    row = dict(
        dealer_id="D001",
        sku="S1",
        daily_rate=2.0,
        sigma_daily=1.5,
        demand_class="smooth",
        forecast_model="ets",
    )
    row.update(overrides)
    return row


def run(positions: list[dict], demands: list[dict]) -> pd.DataFrame:
    return compute_suggestions(
        pd.DataFrame(positions), pd.DataFrame(demands), CONFIG, run_id="r1", as_of=AS_OF
    )


def test_columns_are_the_design_columns_in_order():
    out = run([position()], [demand()])
    assert list(out.columns) == DESIGN_COLUMNS
    assert out.loc[0, "run_id"] == "r1"
    assert out.loc[0, "as_of"] == AS_OF


def test_normal_case_matches_the_textbook_formula():
    # d = 2/day, sigma_d = 1.5, L = 10 (sd 3), R = 4: P = 14, D = 28,
    # sigma_P = sqrt(14 * 1.5^2 + 2^2 * 3^2) = sqrt(67.5).
    out = run(
        [
            position(
                on_hand=10,
                in_transit=5,
                on_order=3,
                backorders=2,
                lead_time_sd_days=3.0,
                pack_size=6,
                moq=4,
            )
        ],
        [demand()],
    ).iloc[0]
    z = stats.norm.ppf(0.95)  # class B
    sigma_p = math.sqrt(67.5)
    # Packs of 6 leave the position on the six whole numbers from ceil(s), and whole-unit
    # demand is served at position k with probability Phi((k + 1/2 - 28) / sigma_P): s is the
    # level whose service averaged over those positions (and over the fraction ceil(s) - s,
    # i.e. over [s, s + 6)) is 95 % (below the classic 28 + z sigma_P = 41.51).
    level = whole_unit_level(28.0, sigma_p, 6, 0.95)
    assert level == pytest.approx(38.31, abs=0.005)
    assert out["protection_days"] == 14
    assert out["demand_over_protection"] == pytest.approx(28.0)
    assert out["sigma_over_protection"] == pytest.approx(sigma_p)
    assert out["service_level"] == 0.95
    assert out["z"] == pytest.approx(z)
    assert out["safety_stock"] == pytest.approx(level - 28)
    assert out["order_up_to"] == pytest.approx(level)
    assert out["inventory_position"] == 16  # 10 + 5 + 3 - 2
    assert out["raw_need"] == pytest.approx(level - 16)  # 22.3
    assert out["suggested_qty"] == 24  # 4 packs of 6
    assert out["reason"].startswith("Order 24 (4 packs of 6): order-up-to 38.3 = forecast 28 ")
    assert (
        "safety stock 10.3 at 95% service (normal, z=1.64, pack-adjusted for packs of 6)"
        in out["reason"]
    )
    assert "position 16 = 10 on hand + 5 in transit + 3 on order - 2 backordered" in out["reason"]


@pytest.mark.parametrize(
    ("abc_class", "override", "expected"),
    [
        ("A", np.nan, 0.98),
        ("B", np.nan, 0.95),
        ("C", np.nan, 0.90),
        (None, np.nan, 0.95),
        ("C", 0.99, 0.99),
    ],
)
def test_service_level_from_class_or_pair_override(abc_class, override, expected):
    out = run([position(abc_class=abc_class, service_level=override)], [demand()]).iloc[0]
    assert out["service_level"] == expected
    assert out["z"] == pytest.approx(stats.norm.ppf(expected))
    # One-unit packs: the whole-unit level, Brent's root of the service over [s, s + 1).
    sigma_p = math.sqrt(14 * 2.25)
    level = whole_unit_level(28.0, sigma_p, 1, expected)
    assert out["safety_stock"] == pytest.approx(level - 28, abs=1e-6)
    classic = stats.norm.ppf(expected) * sigma_p
    assert out["safety_stock"] == pytest.approx(classic - 1, abs=0.05)


def test_slow_mover_uses_the_poisson_level_nearest_the_target():
    # D = 0.2 * 14 = 2.8, variance 14 * 0.4^2 = 2.24 <= 1.2 * 2.8: Poisson. The 95 % quantile
    # is 6 (F(6) = 97.6 %), but 5 units give 93.5 %, nearer the target: the level is 5.
    out = run(
        [position(on_hand=1)],
        [demand(daily_rate=0.2, sigma_daily=0.4, demand_class="intermittent")],
    ).iloc[0]
    quantile = stats.poisson.ppf(0.95, 2.8)
    assert quantile == 6
    below, at = stats.poisson.cdf([5, 6], 2.8)
    assert 0.95 - below < at - 0.95
    assert out["order_up_to"] == 5
    assert out["safety_stock"] == pytest.approx(5 - 2.8)
    assert out["z"] == pytest.approx(stats.norm.ppf(0.95))  # the target's z, documented
    assert out["suggested_qty"] == 4
    assert (
        f"(Poisson: this whole level gives {below * 100:.1f}%, the nearest to 95%)" in out["reason"]
    )


def test_slow_mover_uses_a_moment_fitted_negative_binomial_when_overdispersed():
    # D = 2.8, variance 14 * 1.0^2 = 14 > 1.2 * 2.8: negative binomial with mean 2.8, var 14.
    out = run(
        [position(on_hand=0, abc_class="A")],
        [demand(daily_rate=0.2, sigma_daily=1.0, demand_class="lumpy")],
    ).iloc[0]
    mean, var = 2.8, 14.0
    n, p = mean**2 / (var - mean), mean / var
    fitted_mean, fitted_var = stats.nbinom.stats(n, p, moments="mv")
    assert (fitted_mean, fitted_var) == pytest.approx((mean, var))
    expected = stats.nbinom.ppf(0.98, n, p)
    assert stats.nbinom.cdf(expected, n, p) >= 0.98 > stats.nbinom.cdf(expected - 1, n, p)
    assert out["order_up_to"] == expected
    assert out["safety_stock"] == pytest.approx(expected - mean)
    assert out["suggested_qty"] == expected
    assert "negative binomial 98% quantile, variance 14" in out["reason"]


def test_small_demand_over_protection_is_slow_even_when_smooth():
    # D = 0.5 * 14 = 7 < 10 units: a count distribution even for a "smooth" series.
    out = run([position(on_hand=0)], [demand(daily_rate=0.5, sigma_daily=0.5)]).iloc[0]
    # F(11) = 94.7 %, F(12) = 97.3 % (the 95 % quantile): 11 is the whole level nearest 95 %.
    assert stats.poisson.ppf(0.95, 7.0) == 12
    assert out["order_up_to"] == 11
    assert "Poisson" in out["reason"]


def test_pairs_without_a_forecast_have_zero_demand_and_order_nothing():
    out = run([position(sku="S1"), position(sku="S2", on_hand=0)], [demand(sku="S1")])
    lonely = out.set_index("sku").loc["S2"]
    assert lonely["demand_class"] == "no_history"
    assert lonely["demand_over_protection"] == 0
    assert lonely["order_up_to"] == 0
    assert lonely["suggested_qty"] == 0
    assert "no sales history" in lonely["reason"]


def test_an_array_of_daily_forecasts_is_summed_over_the_protection_interval():
    path = np.arange(1.0, 11.0)  # 1, 2, ..., 10 per day
    out = run(
        [position(lead_time_days=3.5, review_period_days=2, on_hand=0)],
        [demand(daily_rate=path, sigma_daily=0.0)],
    ).iloc[0]
    # P = 5.5 days: 1 + 2 + 3 + 4 + 5 + half of 6.
    assert out["demand_over_protection"] == pytest.approx(18.0)
    assert out["avg_daily_demand"] == pytest.approx(18.0 / 5.5)


def test_short_forecast_path_repeats_its_last_day():
    out = run(
        [position(lead_time_days=3, review_period_days=2)],
        [demand(daily_rate=[4.0, 2.0], sigma_daily=0.0)],
    ).iloc[0]
    assert out["demand_over_protection"] == pytest.approx(4 + 2 + 2 + 2 + 2)


def test_paths_and_rates_of_every_length_mix_in_one_frame():
    # Each pair sums its own path over its own protection interval, whatever the others hold.
    out = run(
        [
            position(sku="A", lead_time_days=2.5, review_period_days=1),
            position(sku="B", lead_time_days=2.5, review_period_days=1),
            position(sku="C", lead_time_days=10, review_period_days=4),
            position(sku="D", lead_time_days=0.25, review_period_days=0),
        ],
        [
            demand(sku="A", daily_rate=[1.0, 2.0, 3.0, np.nan, 9.0], sigma_daily=0.0),
            demand(sku="B", daily_rate=[5.0], sigma_daily=0.0),
            demand(sku="C", daily_rate=2.5, sigma_daily=0.0),
            demand(sku="D", daily_rate=[8.0, 1.0], sigma_daily=0.0),
        ],
    ).set_index("sku")
    # A: P = 3.5 -> 1 + 2 + 3 + half of the missing day (read as 0); B: 5 a day repeated;
    # C: a rate; D: a quarter of the first day.
    assert out.loc["A", "demand_over_protection"] == pytest.approx(6.0)
    assert out.loc["B", "demand_over_protection"] == pytest.approx(17.5)
    assert out.loc["C", "demand_over_protection"] == pytest.approx(35.0)
    assert out.loc["D", "demand_over_protection"] == pytest.approx(2.0)


def test_moq_lifts_the_quantity_to_whole_packs_and_says_so():
    # need 28 + z*sqrt(31.5) - 10 = 27.2 -> 28 in packs of 4; MOQ 30 -> 32 (8 packs).
    out = run([position(pack_size=4, moq=30)], [demand()]).iloc[0]
    assert out["suggested_qty"] == 32
    assert "raised to MOQ 32 from 28 needed" in out["reason"]


def test_min_qty_raises_the_order_up_to_level():
    out = run([position(on_hand=5, min_qty=60)], [demand()]).iloc[0]
    assert out["order_up_to"] == 60
    assert out["suggested_qty"] == 55
    assert "raised to min_qty" in out["reason"]


def test_max_qty_caps_the_position_in_whole_packs():
    # need 27.2 -> 30 in packs of 6; position 10, max 33: room 23 -> 18 (3 packs).
    out = run([position(pack_size=6, max_qty=33)], [demand()]).iloc[0]
    assert out["suggested_qty"] == 18
    assert "cut from 30 to stay within max 33" in out["reason"]


def test_max_below_the_moq_orders_nothing():
    out = run([position(pack_size=1, moq=20, max_qty=25)], [demand()]).iloc[0]
    assert out["raw_need"] > 0
    assert out["suggested_qty"] == 0
    assert out["reason"].startswith("No order: 26.2 needed but max 25 leaves room for only 15, ")
    assert "less than the MOQ of 20" in out["reason"]


def test_position_already_at_max_orders_nothing():
    out = run([position(on_hand=12, pack_size=4, max_qty=15)], [demand()]).iloc[0]
    assert out["raw_need"] > 0
    assert out["suggested_qty"] == 0
    assert "max 15 leaves no room for one more pack" in out["reason"]


def test_stale_data_is_named_in_the_reason():
    out = run([position(is_stale=True, stale_days=6, stale_feed="sell_through")], [demand()]).iloc[
        0
    ]
    assert out["reason"].endswith("; based on sell-through data 6 days old.")


def test_no_order_when_position_covers_the_order_up_to():
    out = run([position(on_hand=100)], [demand()]).iloc[0]
    assert out["raw_need"] == 0
    assert out["suggested_qty"] == 0
    assert out["reason"].startswith("No order: position 100 = 100 on hand")


def test_missing_lead_time_is_an_error_naming_the_pair():
    with pytest.raises(ValueError, match="lead_time_days missing.*D001/S1"):
        run([position(lead_time_days=np.nan)], [demand()])


def test_twenty_thousand_pairs_in_one_call():
    n = 20_000
    rng = np.random.default_rng(3)
    positions = pd.DataFrame([position()] * n).assign(
        sku=[f"S{i}" for i in range(n)],
        on_hand=rng.integers(0, 40, n),
        pack_size=rng.choice([1, 4, 6, 12], n),
    )
    demands = pd.DataFrame(
        {
            "dealer_id": "D001",
            "sku": positions["sku"],
            "daily_rate": rng.gamma(0.6, 2.0, n),
            "sigma_daily": rng.gamma(1.0, 1.0, n),
            "demand_class": rng.choice(["smooth", "erratic", "intermittent", "lumpy"], n),
            "forecast_model": "ets",
        }
    )
    out = compute_suggestions(positions, demands, CONFIG, run_id="r", as_of=AS_OF)
    assert len(out) == n
    assert out["reason"].str.len().min() > 40
    assert not out[["order_up_to", "safety_stock", "suggested_qty"]].isna().any().any()


# --- properties ---------------------------------------------------------------------------

maybe = st.one_of(st.just(np.nan), st.floats(0, 200))
pairs = st.fixed_dictionaries(
    {
        "on_hand": st.floats(-5, 300),
        "in_transit": st.floats(0, 100),
        "on_order": st.floats(0, 100),
        "backorders": st.floats(0, 20),
        "lead_time_days": st.floats(0, 60),
        "lead_time_sd_days": st.floats(0, 10),
        "review_period_days": st.sampled_from([1, 7, 14]),
        "pack_size": st.integers(1, 24),
        "moq": st.integers(0, 60),
        "abc_class": st.sampled_from(["A", "B", "C", None]),
        "min_qty": maybe,
        "max_qty": maybe,
        "daily_rate": st.floats(0, 30),
        "sigma_daily": st.floats(0, 20),
        "demand_class": st.sampled_from(["smooth", "erratic", "intermittent", "lumpy"]),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pairs, min_size=1, max_size=12))
def test_suggested_quantity_properties(rows):
    positions = [
        position(
            sku=f"S{i}",
            **{
                k: v for k, v in r.items() if k not in ("daily_rate", "sigma_daily", "demand_class")
            },
        )
        for i, r in enumerate(rows)
    ]
    demands = [
        demand(
            sku=f"S{i}",
            daily_rate=r["daily_rate"],
            sigma_daily=r["sigma_daily"],
            demand_class=r["demand_class"],
        )
        for i, r in enumerate(rows)
    ]
    out = run(positions, demands)
    qty, pack = out["suggested_qty"], out["pack_size"]
    moq_packs = np.ceil(out["moq"] / pack) * pack
    ip, out_level = out["inventory_position"], out["order_up_to"]
    max_qty = pd.Series([r["max_qty"] for r in rows])
    min_qty = pd.Series([r["min_qty"] for r in rows])
    capped = max_qty.notna()

    assert (qty >= 0).all()
    assert (qty % pack == 0).all()
    assert ((qty == 0) | (qty >= out["moq"])).all()
    assert (qty[ip >= out_level] == 0).all()
    assert ((qty == 0) | ~capped | (ip + qty <= max_qty + 1e-9)).all()
    assert (min_qty.isna() | (out_level >= min_qty - 1e-9)).all()
    assert (out["raw_need"] == (out_level - ip).clip(lower=0)).all()
    # Unless the max cuts it, an order reaches the order-up-to level with less than one pack
    # to spare (or is exactly the MOQ).
    free = (qty > 0) & ~capped
    assert (ip[free] + qty[free] >= out_level[free] - 1e-9).all()
    assert ((qty[free] == moq_packs[free]) | (qty[free] - pack[free] < out["raw_need"][free])).all()
    assert out["reason"].str.endswith(".").all()
