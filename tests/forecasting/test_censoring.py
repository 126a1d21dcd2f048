"""Censored demand: conditional moments against scipy, unconstraining, censored scoring, API."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from forecasting import forecast, forecast_with_diagnostics
from forecasting.backtest import score
from forecasting.censoring import (
    expected_absolute_error,
    negative_binomial_conditional_moments,
    normal_conditional_moments,
    partial_stockout_moments,
    poisson_conditional_moments,
    stocked_share_moments,
    unconstrain,
    unconstrain_before_origins,
)

WEEKLY = {"horizon": 13, "season_length": 52, "freq": "W-MON"}


def weekly_history(y, censored=None, uid="a") -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "unique_id": uid,
            "ds": pd.date_range("2023-01-02", periods=len(y), freq="W-MON"),
            "y": np.asarray(y, dtype=float),
        }
    )
    if censored is not None:
        frame["censored"] = np.asarray(censored, dtype=bool)
    return frame


# --- E[D | D >= c] against scipy -------------------------------------------------------------


@pytest.mark.parametrize(
    "mean, sd, lower",
    [(10.0, 3.0, 8.0), (10.0, 3.0, 15.0), (0.0, 1.0, -3.0), (5.0, 2.0, 5.0), (20.0, 4.0, 33.0)],
)
def test_normal_conditional_moments_match_numerical_integration(mean, sd, lower):
    dist = stats.norm(mean, sd)
    expected_mean = dist.expect(lambda x: x, lb=lower, conditional=True)
    expected_square = dist.expect(lambda x: x**2, lb=lower, conditional=True)
    got_mean, got_variance = normal_conditional_moments(mean, sd, lower)
    assert got_mean == pytest.approx(expected_mean, rel=1e-8)
    assert got_variance == pytest.approx(expected_square - expected_mean**2, rel=1e-5)


def test_normal_conditional_mean_far_in_the_tail_follows_the_mills_ratio_asymptote():
    # a = 30 sd above the mean: 1 - Phi(a) underflows; E[D | D >= c] ~ c + sd / a.
    got_mean, got_variance = normal_conditional_moments(0.0, 2.0, 60.0)
    assert got_mean == pytest.approx(60.0 + 2.0 / 30.0, rel=1e-5)
    assert 0 <= got_variance < 0.01


@pytest.mark.parametrize(
    "mean, lower",
    [(3.0, 0), (3.0, 1), (3.0, 5), (0.2, 3), (50.0, 40), (50.0, 70), (0.5, 30)],
)
def test_poisson_conditional_moments_match_scipy_sums(mean, lower):
    dist = stats.poisson(mean)
    expected_mean = dist.expect(lambda k: k, lb=lower, conditional=True)
    expected_square = dist.expect(lambda k: k**2, lb=lower, conditional=True)
    got_mean, got_variance = poisson_conditional_moments(mean, lower)
    assert got_mean == pytest.approx(expected_mean, rel=1e-9)
    assert got_variance == pytest.approx(expected_square - expected_mean**2, rel=1e-6, abs=1e-9)


def test_a_fractional_bound_on_a_count_means_the_next_integer():
    assert poisson_conditional_moments(2.0, 2.5)[0] == pytest.approx(
        stats.poisson(2.0).expect(lambda k: k, lb=3, conditional=True)
    )


@pytest.mark.parametrize(
    "mean, size, lower",
    [(3.0, 0.5, 0), (3.0, 0.5, 4), (20.0, 2.0, 30), (0.3, 0.2, 2), (50.0, 5.0, 40), (8.0, 3.0, 1)],
)
def test_negative_binomial_conditional_moments_match_scipy_sums(mean, size, lower):
    dist = stats.nbinom(size, size / (size + mean))  # scipy's (n, p): mean n (1 - p) / p
    expected_mean = dist.expect(lambda k: k, lb=lower, conditional=True)
    expected_square = dist.expect(lambda k: k**2, lb=lower, conditional=True)
    got_mean, got_variance = negative_binomial_conditional_moments(mean, size, lower)
    assert got_mean == pytest.approx(expected_mean, rel=1e-8)
    assert got_variance == pytest.approx(expected_square - expected_mean**2, rel=1e-6)


def test_moments_work_elementwise_on_arrays():
    mean, variance = poisson_conditional_moments(np.array([3.0, 3.0, 0.0]), np.array([0, 5, 2]))
    assert mean[0] == pytest.approx(3.0) and variance[0] == pytest.approx(3.0)
    assert mean[1] == pytest.approx(poisson_conditional_moments(3.0, 5)[0])
    assert mean[2] == 2.0 and variance[2] == 0.0  # no demand possible: the bound itself


# --- the partial stock-out model -------------------------------------------------------------


@pytest.mark.parametrize(
    "sales, mean", [(0, 0.3), (1, 0.3), (18, 20.0), (5, 30.0), (40, 20.0), (3, 0.001)]
)
def test_stocked_share_posterior_matches_numerical_integration_poisson(sales, mean):
    # In-stock share u ~ U(0, 1), sales ~ Poisson(u * mean): integrate the posterior directly.
    def likelihood(u):
        return stats.poisson.pmf(sales, u * mean)

    def integral(f):
        return integrate.quad(f, 0, 1, epsabs=0, epsrel=1e-12, limit=200)[0]

    evidence = integral(likelihood)
    first, second = stocked_share_moments(sales, mean)
    assert first == pytest.approx(integral(lambda u: u * likelihood(u)) / evidence, rel=1e-7)
    assert second == pytest.approx(integral(lambda u: u**2 * likelihood(u)) / evidence, rel=1e-7)


@pytest.mark.parametrize(
    "sales, mean, sd", [(8.0, 10.0, 3.0), (15.0, 10.0, 3.0), (0.0, 10.0, 3.0), (30.0, 10.0, 1.0)]
)
def test_stocked_share_posterior_matches_numerical_integration_normal(sales, mean, sd):
    def likelihood(u):
        return stats.norm.pdf(sales, u * mean, sd)

    def integral(f):
        return integrate.quad(f, 0, 1, epsabs=0, epsrel=1e-12)[0]

    evidence = integral(likelihood)
    first, second = stocked_share_moments(sales, mean, sd=sd)
    assert first == pytest.approx(integral(lambda u: u * likelihood(u)) / evidence, rel=1e-7)
    assert second == pytest.approx(integral(lambda u: u**2 * likelihood(u)) / evidence, rel=1e-6)


def test_partial_stockout_demand_by_hand():
    # Poisson, level 10, sales 0: E[u] = (1/10) P(2, 10) / P(1, 10).
    p1, p2 = 1 - np.exp(-10.0), 1 - 11 * np.exp(-10.0)
    share_sold = p2 / (10.0 * p1)
    mean, _ = partial_stockout_moments(10.0, 0.0, family="poisson", dispersion=0.0)
    assert mean == pytest.approx(10.0 * (1 - share_sold))
    # Normal with sd 0: the share is sales / level, capped at 1, so the result is max(level, y).
    means, variances = partial_stockout_moments(
        np.array([10.0, 10.0]), np.array([4.0, 12.0]), family="normal", dispersion=0.0
    )
    assert means.tolist() == [10.0, 12.0] and variances.tolist() == [0.0, 0.0]


def test_partial_stockout_demand_is_above_the_bound_and_below_truncation():
    level, sales = np.full(4, 20.0), np.array([5.0, 15.0, 20.0, 30.0])
    partial, _ = partial_stockout_moments(level, sales, family="poisson", dispersion=0.0)
    truncated, _ = poisson_conditional_moments(level, sales)
    assert np.all(partial > sales)
    assert np.all(partial <= truncated)


# --- unconstraining --------------------------------------------------------------------------


def test_without_censored_periods_unconstrain_returns_the_series():
    y = np.array([3.0, np.nan, 5.0, 4.0])
    result = unconstrain(y, np.zeros(4, dtype=bool), season_length=52)
    np.testing.assert_array_equal(result.values, y)
    assert result.iterations == 0


def test_imputed_values_respect_the_bound_and_nan_stays_missing():
    rng = np.random.default_rng(1)
    y = rng.poisson(12, 60).astype(float)
    censored = rng.random(60) < 0.3
    y[5] = np.nan
    censored[5] = True  # a flag on a NaN week: still not observed
    for method in ("partial", "truncation"):
        result = unconstrain(y, censored, season_length=52, method=method)
        assert np.isnan(result.values[5])
        flagged = censored & ~np.isnan(y)
        assert np.all(result.values[flagged] > y[flagged])
        np.testing.assert_array_equal(result.values[~censored], y[~censored])
        assert result.converged and result.iterations <= 20


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        unconstrain(np.ones(5), np.ones(5, dtype=bool), season_length=1, method="guess")


def test_backtest_series_before_an_origin_ignores_everything_after_it():
    rng = np.random.default_rng(2)
    y = rng.poisson(10, 80).astype(float)
    censored = rng.random(80) < 0.3
    origins = [41, 54, 67]
    series = unconstrain_before_origins(y, censored, origins, season_length=52)
    changed_future = y.copy()
    changed_future[54:] = 100.0  # a very different future must not move the first 54 values
    other = unconstrain_before_origins(changed_future, censored, origins, season_length=52)
    np.testing.assert_array_equal(series[:54], other[:54])
    assert not np.array_equal(series[54:], other[54:])


def test_with_factors_the_level_is_the_season_times_the_neighbours_deseasonalised_mean():
    rng = np.random.default_rng(4)
    factors = 1.0 + 0.5 * np.sin(2 * np.pi * np.arange(60) / 52)
    y = rng.poisson(15 * factors).astype(float)
    censored = np.zeros(60, dtype=bool)
    censored[30] = True  # one censored period: its level reads uncensored neighbours only
    result = unconstrain(y, censored, season_length=52, factors=factors)
    # By hand: triangular weights k + 1 - |s - t| over 0 < |s - t| <= k, k = 6 on weekly data.
    k, t = 6, 30
    offsets = [d for d in range(-k, k + 1) if d != 0]
    weights = np.array([k + 1 - abs(d) for d in offsets], dtype=float)
    neighbours = np.array([y[t + d] / factors[t + d] for d in offsets])
    expected = factors[t] * np.sum(weights * neighbours) / np.sum(weights)
    assert result.level[t] == pytest.approx(expected, rel=1e-12)
    # All factors 1 is the level-only model, the default.
    plain = unconstrain(y, censored, season_length=52)
    ones = unconstrain(y, censored, season_length=52, factors=np.ones(60))
    np.testing.assert_allclose(ones.values, plain.values, rtol=1e-12)


def test_factors_keep_the_level_of_a_peak_where_stockouts_cluster():
    # Deterministic demand 40 * f_t; the shelf empties in the top weeks of the season and
    # sells 60 % of their demand, 13 weeks in a row. A moving mean of the neighbours flattens
    # the peak (10-18 % low here); the deseasonalised neighbours all say 40, so with the
    # factors the imputed demand is within the posterior's small spread of it (about 1 %).
    weeks = np.arange(104)
    factors = 1.0 + 0.6 * np.sin(2 * np.pi * weeks / 52)
    demand = 40.0 * factors
    censored = factors > 1.4
    sales = np.where(censored, 0.6 * demand, demand)
    seasonal = unconstrain(sales, censored, season_length=52, family="normal", factors=factors)
    level_only = unconstrain(sales, censored, season_length=52, family="normal")
    seasonal_error = np.abs(seasonal.values[censored] / demand[censored] - 1.0)
    level_only_error = np.abs(level_only.values[censored] / demand[censored] - 1.0)
    assert seasonal_error.max() < 0.02
    assert level_only_error.mean() > 0.08


def test_factors_shorter_than_the_series_are_refused():
    with pytest.raises(ValueError, match="factors"):
        unconstrain(np.ones(5), np.ones(5, dtype=bool), season_length=1, factors=np.ones(4))


def simulated_stockouts(seed: int, weeks: int = 104):
    """Poisson demand of mean 20 a week and a shelf of a known, varying size each week."""
    rng = np.random.default_rng(seed)
    demand = rng.poisson(20.0, weeks).astype(float)
    stock = rng.integers(12, 31, weeks).astype(float)
    return demand, np.minimum(demand, stock), demand >= stock  # sales, shelf emptied


def test_unconstrained_level_is_nearer_the_true_mean_than_sales_or_missing():
    demand, sales, censored = simulated_stockouts(seed=7)
    assert 0.3 < censored.mean() < 0.7
    as_sales = sales.mean()
    as_missing = sales[~censored].mean()
    for method in ("partial", "truncation"):
        level = unconstrain(sales, censored, season_length=52, method=method).values.mean()
        # Margins: sales and missing sit 2-3 units below 20; unconstrained within 1.
        assert abs(level - 20.0) < 1.0
        assert abs(level - 20.0) < abs(as_sales - 20.0) - 1.0
        assert abs(level - 20.0) < abs(as_missing - 20.0) - 1.0


def test_forecast_with_lower_bounds_is_nearer_the_true_mean_than_sales_or_missing():
    runs = {"lower_bound": [], "sales": [], "missing": []}
    for seed in range(11, 17):
        _, sales, censored = simulated_stockouts(seed)
        uid = f"s{seed}"
        runs["lower_bound"].append(weekly_history(sales, censored, uid))
        runs["sales"].append(weekly_history(sales, uid=uid))
        runs["missing"].append(weekly_history(np.where(censored, np.nan, sales), uid=uid))
    error = {
        name: abs(forecast(pd.concat(frames), **WEEKLY).yhat.mean() - 20.0)
        for name, frames in runs.items()
    }
    # Seen: lower bounds 0.3 above the true mean, missing 1.4 and sales 2.1 below it.
    assert error["lower_bound"] < 1.0
    assert error["lower_bound"] < error["sales"] - 0.75
    assert error["lower_bound"] < error["missing"] - 0.75


# --- backtest scoring of censored actuals ---------------------------------------------------


def test_censored_actuals_score_only_under_forecasts_by_hand():
    forecasts = np.array([[10.0, 10.0], [10.0, 10.0]])
    held_out = np.array([[12.0, 8.0], [7.0, np.nan]])
    censored = np.array([[True, True], [False, False]])
    scores = score(forecasts, held_out, scale=2.0, censored=censored)
    # errors: censored 12 under-forecast by 2 -> -2; censored 8 over-forecast -> 0; 10 - 7 = 3
    assert scores.mae == pytest.approx(5 / 3)
    assert scores.mse == pytest.approx(13 / 3)
    assert scores.mase == pytest.approx(5 / 3 / 2)
    assert scores.wape == pytest.approx(5 / 27)
    assert scores.sigma == pytest.approx(np.sqrt(13 / 3))
    assert scores.bias == pytest.approx((1 / 3) / 9)


def test_matching_a_lower_bound_earns_nothing_over_forecasting_above_it():
    held_out, censored = np.array([[10.0]]), np.array([[True]])
    at_bound = score(np.array([[10.0]]), held_out, 1.0, censored=censored)
    above = score(np.array([[14.0]]), held_out, 1.0, censored=censored)
    below = score(np.array([[6.0]]), held_out, 1.0, censored=censored)
    assert at_bound.mae == above.mae == 0.0
    assert below.mae == 4.0


def test_with_a_demand_model_censored_periods_score_their_expected_error_by_hand():
    forecasts = np.array([[10.0, 10.0], [10.0, 10.0]])
    held_out = np.array([[12.0, 8.0], [7.0, np.nan]])
    censored = np.array([[True, True], [False, False]])
    demand_mean = np.array([[13.0, 9.0], [0.0, 0.0]])  # ignored where not censored
    demand_variance = np.array([[2.0, 0.0], [0.0, 0.0]])
    scores = score(
        forecasts,
        held_out,
        scale=2.0,
        censored=censored,
        demand_mean=demand_mean,
        demand_variance=demand_variance,
    )
    # expected squared errors: (10-13)^2 + 2, (10-9)^2 + 0, (10-7)^2
    assert scores.mse == pytest.approx((11 + 1 + 9) / 3)
    assert scores.sigma == pytest.approx(np.sqrt((11 + 1 + 9) / 3))
    # expected errors -3, +1, +3 over expected demand 13, 9, 7
    assert scores.bias == pytest.approx((1 / 3) / (29 / 3))
    # absolute: forecast 10 below the floor 12, so D - 10 >= 2 always: E|e| = 13 - 10 = 3;
    # the second has no spread left (variance 0): |10 - 9| = 1; the uncensored one 3
    assert scores.mae == pytest.approx(7 / 3)
    assert scores.mase == pytest.approx(7 / 3 / 2)
    assert scores.wape == pytest.approx(7 / 29)


def gamma_lost_demand_error(forecast, lower, mean, variance):
    """E|forecast - (lower + L)|, L gamma with mean mean - lower and variance, by quadrature."""
    a = mean - lower
    lost = stats.gamma(a * a / variance, scale=variance / a)
    c = forecast - lower
    below = integrate.quad(lambda x: (c - x) * lost.pdf(x), 0.0, max(c, 0.0))[0] if c > 0 else 0
    above = integrate.quad(lambda x: (x - c) * lost.pdf(x), max(c, 0.0), np.inf)[0]
    return below + above


@pytest.mark.parametrize(
    "forecast, lower, mean, variance",
    [
        (12.0, 5.0, 9.0, 6.0),  # forecast above the expected demand
        (8.0, 5.0, 9.0, 6.0),  # between the floor and the expected demand
        (9.5, 5.0, 9.0, 0.3),  # little doubt about the lost demand
        (20.0, 2.0, 2.5, 4.0),  # lost demand of shape 1/16, far above it
        (40.0, 30.0, 36.0, 90.0),
    ],
)
def test_expected_absolute_error_matches_numerical_integration(forecast, lower, mean, variance):
    got = expected_absolute_error(forecast, lower, mean, variance)
    want = gamma_lost_demand_error(forecast, lower, mean, variance)
    assert got == pytest.approx(want, rel=1e-7)


def test_expected_absolute_error_limits_by_hand():
    # at or below the floor the error is certain in sign: m - forecast
    np.testing.assert_allclose(expected_absolute_error([5.0, 3.0], 5.0, 9.0, 6.0), [4.0, 6.0])
    # no doubt left (variance 0, or nothing lost): |forecast - m|
    np.testing.assert_allclose(
        expected_absolute_error(
            [12.0, 4.0, 7.0], [5.0, 2.0, 7.0], [9.0, 6.0, 7.0], [0.0, 0.0, 3.0]
        ),
        [3.0, 2.0, 0.0],
    )
    # never below |forecast - m| (Jensen), and 2 sd-ish above when the forecast sits on m
    at_mean = expected_absolute_error(9.0, 5.0, 9.0, 6.0)
    assert 0 < at_mean < np.sqrt(6.0)


def test_a_forecast_far_above_the_floor_no_longer_scores_as_perfect():
    # Two methods on a censored week (sold 10, expected demand 13, variance 4) and an
    # uncensored week of 12: the one forecasting 13 beats the one forecasting 25 only when
    # the censored week is scored by its expected error; one-sided, both are perfect there.
    held_out, censored = np.array([[10.0, 12.0]]), np.array([[True, False]])
    model = {"demand_mean": np.array([[13.0, 0.0]]), "demand_variance": np.array([[4.0, 0.0]])}
    near, far = np.array([[13.0, 13.0]]), np.array([[25.0, 13.0]])
    assert score(near, held_out, 1.0, censored=censored).mae == pytest.approx(0.5)
    assert score(far, held_out, 1.0, censored=censored).mae == pytest.approx(0.5)
    near_expected = score(near, held_out, 1.0, censored=censored, **model)
    far_expected = score(far, held_out, 1.0, censored=censored, **model)
    # 25 is above nearly all of the demand: E|25 - D| is 25 - 13 up to the far tail
    assert far_expected.mae == pytest.approx((12.0 + 1.0) / 2, abs=1e-3)
    assert near_expected.mae < far_expected.mae


# --- the public API --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frames = []
    for i in range(6):
        y = rng.poisson(np.exp(rng.normal(1.5, 1.0)), 90).astype(float)
        y[rng.random(90) < 0.08] = np.nan
        frames.append(weekly_history(y, uid=f"s{i}"))
    return pd.concat(frames, ignore_index=True)


def test_no_censored_column_all_false_and_flags_on_nan_weeks_give_identical_output(panel):
    plain = forecast_with_diagnostics(panel, **WEEKLY)
    all_false = forecast_with_diagnostics(panel.assign(censored=False), **WEEKLY)
    on_nan_only = forecast_with_diagnostics(panel.assign(censored=panel.y.isna()), **WEEKLY)
    for left, right in zip(plain, all_false, strict=True):
        pd.testing.assert_frame_equal(left, right)
    for left, right in zip(plain, on_nan_only, strict=True):
        pd.testing.assert_frame_equal(left, right)


def test_zero_one_integers_are_accepted_as_the_flag(panel):
    flags = (np.arange(len(panel)) % 5 == 0) & panel.y.notna().to_numpy()
    as_bool = forecast(panel.assign(censored=flags), **WEEKLY)
    as_int = forecast(panel.assign(censored=flags.astype(int)), **WEEKLY)
    pd.testing.assert_frame_equal(as_bool, as_int)


@pytest.mark.parametrize(
    "values, message",
    [
        ([True, None, False], "censored has missing values"),
        ([True, np.nan, False], "censored has missing values"),
        (["yes", "no", "no"], "censored must be boolean"),
        ([0, 2, 1], "censored must be boolean"),
    ],
)
def test_bad_censored_flags_are_refused_with_one_line(values, message):
    history = weekly_history([1.0, 2.0, 3.0]).assign(censored=pd.Series(values, dtype=object))
    with pytest.raises(ValueError, match=message) as error:
        forecast(history, **WEEKLY)
    assert "\n" not in str(error.value)


def test_a_series_censored_every_week_forecasts_at_least_its_sales():
    history = weekly_history(np.full(30, 5.0), np.ones(30, dtype=bool))
    frame, diagnostics = forecast_with_diagnostics(history, **WEEKLY)
    assert (frame.yhat > 5.0).all()
    assert diagnostics.n_obs.iloc[0] == 30


def test_censored_weeks_without_sales_do_not_make_a_seller_intermittent():
    rng = np.random.default_rng(4)
    y = rng.poisson(8, 80).astype(float)
    censored = np.zeros(80, dtype=bool)
    censored[10:40:3] = True
    y[censored] = 0.0  # out of stock all week: nothing sold
    _, diagnostics = forecast_with_diagnostics(weekly_history(y, censored), **WEEKLY)
    assert diagnostics.demand_class.iloc[0] in ("smooth", "erratic")
