"""Statsmodels-backed and baseline methods against direct computations."""

import warnings

import numpy as np
import pytest
from statsmodels.tsa.forecasting.theta import ThetaModel
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from forecasting.models import (
    ARIMA,
    ETS,
    Mean,
    MovingAverage,
    Naive,
    RecentMean,
    SeasonalNaive,
    Theta,
    ThetaSES,
)
from forecasting.models.base import fill_missing
from forecasting.models.ets import seasonal_form


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def monthly_series(n=72, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 0.5 * t + 20 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3, n)


def test_damped_trend_ets_equals_statsmodels_holt_damped():
    y = monthly_series()
    expected = (
        ExponentialSmoothing(y, trend="add", damped_trend=True, initialization_method="estimated")
        .fit(use_brute=False)
        .forecast(6)
    )
    assert ETS(trend=True).fit(y).predict(6) == pytest.approx(expected, rel=1e-9)


def test_holt_winters_is_multiplicative_only_for_positive_data():
    y = monthly_series()
    assert seasonal_form(y, 12) == "mul"
    assert seasonal_form(np.r_[0.0, y[1:]], 12) == "add"
    assert seasonal_form(y[:20], 12) is None  # fewer than two seasons
    assert seasonal_form(np.tile(y, 2), 52) is None  # weekly seasons are not fitted by ETS
    expected = (
        ExponentialSmoothing(
            y,
            trend="add",
            damped_trend=True,
            seasonal="mul",
            seasonal_periods=12,
            initialization_method="estimated",
        )
        .fit(use_brute=False)
        .forecast(12)
    )
    assert ETS(12, trend=True, seasonal="mul").fit(y).predict(12) == pytest.approx(expected)


def test_ses_backtest_runs_the_recursion_with_parameters_from_the_first_origin():
    rng = np.random.default_rng(1)
    y = 20 + rng.normal(0, 2, 60)
    origins = [36, 48]
    first_fit = ExponentialSmoothing(y[:36], initialization_method="estimated").fit(use_brute=False)
    alpha = first_fit.params["smoothing_level"]
    level = first_fit.params["initial_level"]
    for value in y[:48]:  # level after observing the first 48 values, by hand
        level += alpha * (value - level)
    forecasts = ETS().backtest(y, origins, 4)
    assert forecasts[0] == pytest.approx(first_fit.forecast(4))
    assert forecasts[1] == pytest.approx(np.full(4, level))


def test_ets_backtest_does_not_look_ahead():
    y = monthly_series()
    changed = y.copy()
    changed[60:] *= 3
    model = ETS(12, trend=True, seasonal="mul")
    assert model.backtest(y, [36, 48, 60], 6) == pytest.approx(
        model.backtest(changed, [36, 48, 60], 6)
    )


def test_theta_equals_statsmodels_theta_model():
    y = monthly_series()
    expected = ThetaModel(y, period=12).fit().forecast(12)
    assert Theta(12).fit(y).predict(12) == pytest.approx(expected)
    no_season = ThetaModel(y, deseasonalize=False).fit().forecast(3)
    assert Theta(1).fit(y).predict(3) == pytest.approx(no_season)


def ses_with_half_drift(y, h, alpha_fit):
    """Hyndman & Billah's form of Theta, by hand: SES level + half the OLS slope x the lag term."""
    alpha = alpha_fit.params["smoothing_level"]
    slope = np.polyfit(np.arange(len(y)), y, 1)[0]
    k = np.arange(1, h + 1)
    return alpha_fit.forecast(h) + 0.5 * slope * (k - 1 + 1 / alpha - (1 - alpha) ** len(y) / alpha)


def test_theta_ses_is_ses_plus_half_the_least_squares_slope():
    rng = np.random.default_rng(3)
    y = 40 + 0.3 * np.arange(90) + rng.normal(0, 4, 90)
    ses = ExponentialSmoothing(y, initialization_method="estimated").fit(use_brute=False)
    assert ThetaSES().fit(y).predict(5) == pytest.approx(ses_with_half_drift(y, 5, ses))
    # The same method as statsmodels' ThetaModel, which starts its level at y[0] instead.
    reference = ThetaModel(y, deseasonalize=False).fit().forecast(5)
    assert ThetaSES().fit(y).predict(5) == pytest.approx(np.asarray(reference), rel=0.01)


def test_theta_ses_lag_term_tends_to_the_series_length_as_alpha_vanishes():
    # (1 - (1 - a)^n) / a is the sum of (1 - a)^j for j < n: n at a = 0, 1 at a = 1.
    from forecasting.models.theta import drift_steps

    assert drift_steps(0.0, 30, 3) == pytest.approx([30, 31, 32])
    assert drift_steps(1e-9, 30, 1) == pytest.approx([30], rel=1e-6)
    assert drift_steps(1.0, 30, 2) == pytest.approx([1, 2])
    assert drift_steps(0.2, 10, 1) == pytest.approx([sum(0.8**j for j in range(10))])


def test_theta_ses_backtest_keeps_the_first_alpha_and_refits_the_slope_at_each_origin():
    rng = np.random.default_rng(4)
    y = 25 + 0.2 * np.arange(70) + rng.normal(0, 3, 70)
    origins, h = [50, 60], 3
    first = ExponentialSmoothing(y[:50], initialization_method="estimated").fit(use_brute=False)
    alpha = first.params["smoothing_level"]
    level = first.params["initial_level"]
    for value in y[:60]:
        level += alpha * (value - level)
    slope = np.polyfit(np.arange(60), y[:60], 1)[0]
    k = np.arange(1, h + 1)
    second = level + 0.5 * slope * (k - 1 + (1 - (1 - alpha) ** 60) / alpha)
    forecasts = ThetaSES().backtest(y, origins, h)
    assert forecasts[0] == pytest.approx(ses_with_half_drift(y[:50], h, first))
    assert forecasts[1] == pytest.approx(second)


def test_theta_ses_follows_a_trend_that_ses_lags():
    rng = np.random.default_rng(5)
    weeks = np.arange(110)
    demand = 30 * np.exp(0.25 * weeks / 52)  # +25 % a year
    y = rng.poisson(demand).astype(float)
    truth = 30 * np.exp(0.25 * np.arange(110, 113) / 52)
    ses_error = ETS().fit(y).predict(3).sum() - truth.sum()
    theta_error = ThetaSES().fit(y).predict(3).sum() - truth.sum()
    assert ses_error < 0
    assert abs(theta_error) < abs(ses_error)


def test_arima_forecast_is_finite_and_follows_a_trend():
    y = np.arange(40, dtype=float) + np.random.default_rng(2).normal(0, 0.5, 40)
    forecast = ARIMA().fit(y).predict(5)
    assert np.all(np.diff(forecast) > 0.5)


def test_baselines():
    y = np.array([1, 2, 3, 4, 5, 6, np.nan, 8], dtype=float)
    assert Naive().fit(y).predict(2) == pytest.approx([8, 8])
    assert Naive().fit(y[:7]).predict(1) == pytest.approx([6])  # last observed value
    assert Mean().fit(y).predict(1) == pytest.approx([29 / 7])
    assert MovingAverage(3).fit(y).predict(1) == pytest.approx([(5 + 6 + 8) / 3])
    # recent mean: the latest half of the 7 observed values, rounded up (4), gap skipped
    assert RecentMean().fit(y).predict(2) == pytest.approx([(4 + 5 + 6 + 8) / 4] * 2)
    assert RecentMean().fit(y[:5]).predict(1) == pytest.approx([(3 + 4 + 5) / 3])  # at least 3
    assert RecentMean().fit(y[:2]).predict(1) == pytest.approx([1.5])  # all when fewer
    # seasonal naive with the censored period interpolated from its neighbours (7)
    assert SeasonalNaive(4).fit(y).predict(6) == pytest.approx([5, 6, 7, 8, 5, 6])


def test_fill_missing_interpolates_inside_and_holds_the_ends():
    y = np.array([np.nan, 2, np.nan, np.nan, 8, np.nan])
    assert fill_missing(y) == pytest.approx([2, 2, 4, 6, 8, 8])


def statsmodels_backtest(y, origins, h, trend):
    """ETS's backtest done wholly by statsmodels: fit at the first origin, refit with those
    parameters held fixed at the later ones (what ETS ran before its own recursion)."""
    kind = {"trend": "add" if trend else None, "damped_trend": trend}
    first = ExponentialSmoothing(
        fill_missing(y[: origins[0]]), **kind, initialization_method="estimated"
    )
    result = first.fit(use_brute=False)
    params = result.params
    rows = [result.forecast(h)]
    initial = {"initial_level": params["initial_level"]}
    smoothing = {"smoothing_level": params["smoothing_level"]}
    if trend:
        initial["initial_trend"] = params["initial_trend"]
        smoothing["smoothing_trend"] = params["smoothing_trend"]
        smoothing["damping_trend"] = params["damping_trend"]
    for origin in origins[1:]:
        model = ExponentialSmoothing(
            fill_missing(y[:origin]), **kind, initialization_method="known", **initial
        )
        rows.append(model.fit(optimized=False, **smoothing).forecast(h))
    return np.vstack(rows)


@pytest.mark.parametrize("trend", [False, True])
def test_non_seasonal_ets_forecasts_equal_statsmodels_to_the_last_bit(trend):
    rng = np.random.default_rng(7)
    for case in range(40):
        n = int(rng.integers(30, 110))
        t = np.arange(n)
        y = rng.poisson(np.exp(rng.normal(0.5, 1.0)) * np.exp(0.01 * rng.normal() * t)).astype(
            float
        )
        y[rng.random(n) < 0.08] = np.nan  # censored weeks: filled from their neighbours
        if case % 5 == 0:
            y = 50 + np.cumsum(rng.normal(0, 3, n))  # a wandering level, negative steps
        fitted = ETS(trend=trend).fit(y)
        reference = ExponentialSmoothing(
            fill_missing(y), trend="add" if trend else None, damped_trend=trend,
            initialization_method="estimated",
        ).fit(use_brute=False)  # fmt: skip
        np.testing.assert_array_equal(fitted.predict(13), reference.forecast(13))
        origins = [n - 3 * 8, n - 2 * 8, n - 8]
        np.testing.assert_array_equal(
            ETS(trend=trend).backtest(y, origins, 8), statsmodels_backtest(y, origins, 8, trend)
        )
