"""Croston, SBA and TSB against forecasts worked out by hand."""

import numpy as np
import pytest

from forecasting.models import SBA, TSB, Croston

NAN = np.nan


def test_croston_matches_hand_worked_example():
    # demands 3, 5, 2 at periods 1, 4, 6 -> intervals 2, 3, 2
    # sizes:     3 -> 3 + .5(5 - 3) = 4 -> 4 + .5(2 - 4) = 3
    # intervals: 2 -> 2 + .5(3 - 2) = 2.5 -> 2.5 + .5(2 - 2.5) = 2.25
    y = np.array([0, 3, 0, 0, 5, 0, 2], dtype=float)
    assert Croston(alpha=0.5).fit(y).predict(3) == pytest.approx([3 / 2.25] * 3)


def test_sba_debiases_croston_by_one_minus_half_alpha():
    y = np.array([0, 3, 0, 0, 5, 0, 2], dtype=float)
    assert SBA(alpha=0.5).fit(y).predict(2) == pytest.approx([0.75 * 3 / 2.25] * 2)


def test_croston_default_alpha_on_a_longer_series():
    # sizes 4, 2 -> 4 + .1(2 - 4) = 3.8; intervals 3, 4 -> 3 + .1(4 - 3) = 3.1
    y = np.array([0, 0, 4, 0, 0, 0, 2, 0], dtype=float)
    assert Croston().fit(y).predict(1)[0] == pytest.approx(3.8 / 3.1)


def test_croston_skips_unobserved_periods_rather_than_counting_them_as_zero():
    with_gap = np.array([0, 3, NAN, 0, 0, 5, NAN, 0, 2], dtype=float)
    assert Croston(alpha=0.5).fit(with_gap).predict(1)[0] == pytest.approx(3 / 2.25)


def test_croston_family_forecasts_zero_without_demand():
    y = np.zeros(10)
    for model in (Croston(), SBA(), TSB()):
        assert model.fit(y).predict(4) == pytest.approx(np.zeros(4))


def test_tsb_matches_hand_worked_example():
    # p0 = 2/4 = .5, z0 = (2 + 4)/2 = 3, alpha = beta = .5
    # y=0: p = .25            y=2: p = .625, z = 2.5
    # y=0: p = .3125          y=4: p = .65625, z = 3.25   -> forecast .65625 * 3.25
    y = np.array([0, 2, 0, 4], dtype=float)
    assert TSB(alpha=0.5, beta=0.5).fit(y).predict(2) == pytest.approx([0.65625 * 3.25] * 2)


def test_tsb_decays_after_demand_stops_while_croston_does_not():
    y = np.r_[np.tile([0, 0, 3], 10), np.zeros(30)]
    assert TSB().fit(y).predict(1)[0] < 0.1 * Croston().fit(y).predict(1)[0]


def test_backtest_uses_only_data_before_each_origin():
    rng = np.random.default_rng(3)
    y = rng.poisson(0.6, 40).astype(float)
    changed = y.copy()
    changed[30:] += 50
    for model in (Croston(), SBA(), TSB()):
        assert model.backtest(y, [20, 30], 5) == pytest.approx(model.backtest(changed, [20, 30], 5))
