"""Backtest origins and error scores against hand computations."""

import numpy as np
import pytest

from forecasting.backtest import actuals, backtest_plan, mase_scale, score


def test_weekly_plan_tiles_the_last_39_weeks_and_keeps_a_season_of_training():
    plan = backtest_plan(104, 13, 52)
    assert plan.origins == [65, 78, 91]
    assert plan.horizon == 13


def test_monthly_plan_keeps_two_seasons_before_the_first_origin():
    plan = backtest_plan(91, 24, 12)
    assert plan.origins[0] >= 24
    assert plan.origins[-1] + plan.horizon == 91
    assert plan.horizon >= 12


def test_short_series_get_short_windows_or_no_plan():
    plan = backtest_plan(11, 4, 1)
    assert (plan.origins, plan.horizon) == ([8, 9, 10], 1)
    assert backtest_plan(10, 4, 1) is None


def test_actuals_are_the_windows_after_each_origin():
    y = np.arange(20, dtype=float)
    plan = backtest_plan(20, 4, 1)
    held_out = actuals(y, plan)
    assert held_out.tolist() == [[8, 9, 10, 11], [12, 13, 14, 15], [16, 17, 18, 19]]


def test_scores_by_hand_and_missing_actuals_skipped():
    forecasts = np.array([[2.0, 2.0], [4.0, 4.0]])
    held_out = np.array([[1.0, 3.0], [np.nan, 6.0]])
    scores = score(forecasts, held_out, scale=2.0)
    # errors forecast - actual: 1, -1, -2
    assert scores.mae == pytest.approx(4 / 3)
    assert scores.mse == pytest.approx(6 / 3)
    assert scores.sigma == pytest.approx(np.sqrt(2))
    assert scores.mase == pytest.approx(4 / 3 / 2)
    assert scores.wape == pytest.approx(4 / 10)
    assert scores.bias == pytest.approx((-2 / 3) / (10 / 3))


def test_mase_scale_seasonal_then_lag_one_then_undefined():
    y = np.array([1.0, 5.0, 2.0, 7.0, 1.0, 5.0])
    assert mase_scale(y, 2) == pytest.approx(np.mean([1, 2, 1, 2]))
    assert mase_scale(np.array([1.0, 5.0, 1.0, 5.0]), 2) == pytest.approx(4.0)
    assert np.isnan(mase_scale(np.full(6, 3.0), 2))
