"""Allocation under shortage (replenishment/allocation.py), checked on hand-computed cases.

The expected quantities below are worked out by hand from the rule (every line gets the same
multiple lam x weight of its need, capped at the need, in whole packs, leftover packs to the
largest remainders), and the random cases check the invariants against numpy sums.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from replenishment.allocation import allocate, allocate_packs, water_fill


def lines(rows: list[tuple]) -> pd.DataFrame:
    """(dealer_id, sku, suggested_qty, pack_size, moq, inventory_position) -> suggestion rows."""
    frame = pd.DataFrame(
        rows,
        columns=["dealer_id", "sku", "suggested_qty", "pack_size", "moq", "inventory_position"],
    )
    return frame.assign(avg_daily_demand=1.0, lead_time_days=10.0, reason="order up to 80 (normal)")


def test_equal_weights_give_every_line_the_same_share_of_its_need():
    # 150 asked, 75 available: everybody gets half of what it asked.
    got = allocate_packs(np.array([60.0, 60.0, 30.0]), np.ones(3), 75, 1, np.zeros(3))
    np.testing.assert_array_equal(got, [30, 30, 15])


def test_weights_scale_the_share_and_the_leftover_unit_goes_to_the_largest_remainder():
    need, weight = np.array([60.0, 60.0, 30.0]), np.array([2.0, 1.0, 1.0])
    # By hand: 120 lam + 60 lam + 30 lam = 100 -> lam = 10/21; shares 57.14, 28.57, 14.29;
    # floors 57 + 28 + 14 = 99, the 100th unit to the largest remainder (0.57: line 2).
    lam = brentq(lambda x: np.minimum(need, x * weight * need).sum() - 100, 0, 10)
    np.testing.assert_allclose(water_fill(need, weight, 100), np.minimum(need, lam * weight * need))
    np.testing.assert_array_equal(allocate_packs(need, weight, 100, 1, np.zeros(3)), [57, 29, 14])


def test_a_heavy_line_is_capped_at_its_need_and_the_rest_is_shared():
    # Weight 10 would ask 10 x its share: it saturates at 20; the other two share 40 - 20 = 20.
    got = allocate_packs(np.array([20.0, 40.0, 40.0]), np.array([10.0, 1, 1]), 40, 1, np.zeros(3))
    np.testing.assert_array_equal(got, [20, 10, 10])


def test_quantities_are_whole_packs():
    # Packs of 6: 5 packs available for caps 4, 4, 2 -> 2, 2, 1 packs.
    got = allocate_packs(np.array([24.0, 24.0, 12.0]), np.ones(3), 34, 6, np.zeros(3))
    np.testing.assert_array_equal(got, [12, 12, 6])


def test_a_line_below_its_moq_gets_nothing_and_the_others_share_its_units():
    # Equal shares 8.57 / 1.43 would leave line 2 at 1 unit, under its MOQ of 4.
    got = allocate_packs(np.array([12.0, 2.0]), np.ones(2), 10, 1, np.array([4.0, 4.0]))
    np.testing.assert_array_equal(got, [10, 0])


@pytest.mark.parametrize("seed", range(40))
def test_random_shortages_sum_to_the_available_packs_and_never_exceed_a_need(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    pack = int(rng.choice([1, 2, 6, 12]))
    need = rng.integers(1, 20, n) * pack
    weight = rng.uniform(0.5, 3.0, n)
    available = float(rng.integers(0, need.sum()))
    got = allocate_packs(need.astype(float), weight, available, pack, np.zeros(n))
    assert (got <= need).all() and (got >= 0).all()
    assert (got % pack == 0).all()
    # No MOQ: every whole pack that fits is handed out.
    assert got.sum() == (available // pack) * pack


def test_the_higher_tier_gets_the_larger_share_at_equal_need():
    suggestions = lines(
        [("D1", "S1", 60, 1, 0, 30.0), ("D2", "S1", 60, 1, 0, 30.0), ("D1", "S2", 5, 1, 0, 9.0)]
    )
    dealers = pd.DataFrame({"dealer_id": ["D1", "D2"], "tier": ["gold", "bronze"]})
    supply = pd.DataFrame({"sku": ["S1"], "available_qty": [50.0]})
    out = allocate(
        suggestions, supply, dealers, tier_weights={"gold": 1.5, "bronze": 1.0}, risk_weight=1.0
    )
    s1 = out[out["sku"] == "S1"].set_index("dealer_id")["allocated_qty"]
    # Same need and cover (position 30 of 10 days x 1 a day: no risk); weights 1.5 : 1 ->
    # lam = 50 / (90 + 60), shares 30 and 20.
    assert (s1["D1"], s1["D2"]) == (30, 20)
    assert out["allocated_qty"].sum() - 5 == 50


def test_the_line_at_risk_of_a_stockout_gets_the_larger_share():
    # D2's position covers 2 of its 10 lead-time days: risk 1 + 0.8; D1 is covered.
    suggestions = lines([("D1", "S1", 40, 1, 0, 20.0), ("D2", "S1", 40, 1, 0, 2.0)])
    supply = pd.DataFrame({"sku": ["S1"], "available_qty": [56.0]})
    out = allocate(suggestions, supply, None, tier_weights={}, risk_weight=1.0)
    # 40 lam + 72 lam = 56 -> lam = 0.5: 20 and 36.
    assert out["allocated_qty"].tolist() == [20, 36]


def test_uncapped_skus_are_untouched_and_the_cut_is_in_the_reason():
    suggestions = lines(
        [
            ("D1", "S1", 60, 1, 0, 30.0),
            ("D2", "S1", 60, 1, 0, 30.0),
            ("D3", "S1", 30, 1, 0, 30.0),
            ("D1", "S2", 7, 1, 0, 30.0),  # capped but enough supply
            ("D2", "S3", 9, 1, 0, 30.0),  # not in supply.csv
        ]
    )
    supply = pd.DataFrame({"sku": ["S1", "S2"], "available_qty": [75.0, 100.0]})
    out = allocate(suggestions, supply, None, tier_weights={}, risk_weight=1.0)
    assert out["suggested_qty"].tolist() == suggestions["suggested_qty"].tolist()
    assert out["allocated_qty"].tolist() == [30, 30, 15, 7, 9]
    assert out["reason"].iloc[0] == (
        "order up to 80 (normal); allocated 30 of 60: SKU short, 75 available for 150 asked"
    )
    assert out["reason"].iloc[3:].tolist() == suggestions["reason"].iloc[3:].tolist()


def test_without_a_supply_file_the_suggestions_are_returned_as_they_are():
    suggestions = lines([("D1", "S1", 60, 1, 0, 30.0)])
    for supply in (None, pd.DataFrame(columns=["sku", "available_qty"])):
        out = allocate(suggestions, supply, None, tier_weights={}, risk_weight=1.0)
        pd.testing.assert_frame_equal(out, suggestions)
        assert "allocated_qty" not in out
