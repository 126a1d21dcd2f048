"""Selection rules: the non-seasonal combination, drift, and candidates of censored series."""

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.forecasting.theta import ThetaModel
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from forecasting import censoring, forecast, forecast_with_diagnostics
from forecasting.models import Drift, Theta
from forecasting.select import candidates


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def yearly_frame(y: np.ndarray, uid: str = "y") -> pd.DataFrame:
    return pd.DataFrame(
        {"unique_id": uid, "ds": pd.date_range("1990-01-01", periods=len(y), freq="YS"), "y": y}
    )


def test_non_seasonal_forecast_is_the_mean_of_theta_damped_ets_and_drift():
    rng = np.random.default_rng(3)
    t = np.arange(30)
    y = 200 + 6 * t + 8 * np.sin(t / 3) + rng.normal(0, 5, 30)  # trending, not count data
    frame, diagnostics = forecast_with_diagnostics(
        yearly_frame(y), horizon=6, season_length=1, freq="YS"
    )
    theta = ThetaModel(y, deseasonalize=False).fit().forecast(6)
    damped = (
        ExponentialSmoothing(y, trend="add", damped_trend=True, initialization_method="estimated")
        .fit(use_brute=False)
        .forecast(6)
    )
    drift = y[-1] + (y[-1] - y[0]) / (len(y) - 1) * np.arange(1, 7)
    expected = (np.asarray(theta) + np.asarray(damped) + drift) / 3
    assert frame.yhat.to_numpy() == pytest.approx(expected, rel=1e-9)
    assert set(frame.model) == {"combination"}
    assert diagnostics.model.iloc[0] == "combination"
    assert np.isfinite(diagnostics.sigma.iloc[0]) and diagnostics.sigma.iloc[0] > 0


def test_non_seasonal_intermittent_series_keep_the_croston_family():
    y = np.zeros(40)
    y[::4] = [3, 1, 2, 4, 2, 1, 3, 2, 5, 1]
    frame = forecast(yearly_frame(y), horizon=3, season_length=1, freq="YS")
    assert set(frame.model) <= {"croston", "sba", "tsb", "moving_average", "mean"}


def test_seasonal_series_do_not_get_the_non_seasonal_combination():
    # Monthly series have their own rule (tests/forecasting/test_seasonal_combination.py).
    t = np.arange(60)
    y = 100 + 30 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 2, 60)
    ds = pd.date_range("2020-01-01", periods=60, freq="MS")
    frame = pd.DataFrame({"unique_id": "m", "ds": ds, "y": y})
    models = set(forecast(frame, horizon=12, season_length=12, freq="MS").model)
    assert models == {"seasonal_combination"}


def test_drift_is_the_line_through_the_first_and_last_observations():
    # First observation 2 at t=0, last 8 at t=3: slope 2; the series ends at t=4 (missing),
    # so the forecasts for t=5, 6 are 2 + 2*5 = 12 and 14.
    y = np.array([2.0, np.nan, 6.0, 8.0, np.nan])
    assert Drift().fit(y).predict(2) == pytest.approx([12.0, 14.0])
    with pytest.raises(ValueError):
        Drift().fit(np.array([np.nan, 4.0, np.nan]))


def test_theta_of_a_constant_series_is_that_constant():
    # statsmodels' ThetaModel returns ~10.5 here (its trend regression drops the intercept).
    assert Theta().fit(np.full(20, 5.0)).predict(3) == pytest.approx([5.0, 5.0, 5.0])
    frame = forecast(yearly_frame(np.full(20, 5.0)), horizon=3, season_length=1, freq="YS")
    assert frame.yhat.to_numpy() == pytest.approx([5.0, 5.0, 5.0])


def weekly_seasonal(n_series: int, n_weeks: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_weeks)
    phase = rng.uniform(0, 2 * np.pi, n_series)[:, None]
    rate = 20 * (1 + 0.7 * np.sin(2 * np.pi * t / 52 + phase))
    return rng.poisson(rate).astype(float)


def test_seasonal_naive_stays_a_candidate_when_the_first_season_has_censored_weeks():
    y = weekly_seasonal(1, 91, seed=1)[0]
    y[[3, 17, 30, 44]] = np.nan  # censored weeks inside the first training season
    names = [model.name for model in candidates("smooth", y[:52], 52)]
    assert "seasonal_naive" in names
    # Less than half a season observed is not enough to stand for a season.
    sparse = y[:52].copy()
    sparse[::2] = np.nan
    sparse[1:20:2] = np.nan
    assert "seasonal_naive" not in [model.name for model in candidates("smooth", sparse, 52)]


def test_stockout_weeks_as_missing_beat_stockout_weeks_as_sales():
    # Seasonal weekly demand; in 12% of the weeks the shelf ran empty part-way through, so
    # only part of that week's demand sold. Read as sales, those weeks drag the forecast down;
    # read as missing, seasonal naive fills them from their neighbours.
    n_series, n_hist, horizon = 40, 91, 13
    rng = np.random.default_rng(11)
    demand = weekly_seasonal(n_series, n_hist + horizon, seed=7)
    censored = rng.random((n_series, n_hist)) < 0.12
    sold_share = rng.uniform(0.0, 0.6, (n_series, n_hist))
    sales = np.where(censored, np.floor(demand[:, :n_hist] * sold_share), demand[:, :n_hist])
    ds = pd.date_range("2023-01-02", periods=n_hist, freq="W-MON")

    def history(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "unique_id": np.repeat(np.arange(n_series), n_hist),
                "ds": np.tile(ds, n_series),
                "y": values.ravel(),
            }
        )

    truth = demand[:, n_hist:]
    wape, bias = {}, {}
    for name, values in (("missing", np.where(censored, np.nan, sales)), ("sales", sales)):
        frame = forecast(history(values), horizon=horizon, season_length=52, freq="W-MON")
        yhat = frame.sort_values(["unique_id", "ds"]).yhat.to_numpy().reshape(n_series, horizon)
        wape[name] = np.abs(yhat - truth).sum() / truth.sum()
        bias[name] = (yhat - truth).sum() / truth.sum()
    assert wape["missing"] < wape["sales"]
    assert abs(bias["missing"]) < abs(bias["sales"])


def test_a_young_series_sigma_counts_what_its_stock_outs_leave_unknown():
    """Eight weeks, three of them sold out (no backtest fits): the censored weeks enter at
    their expected demand, which spreads less than demand; sigma adds back the mean of their
    conditional variances (Rubin's within-imputation part) before the sqrt(1 + 1/n)."""
    y = np.array([3.0, 5.0, 2.0, 6.0, 1.0, 4.0, 2.0, 3.0])
    censored = np.array([False, False, True, False, True, False, True, False])
    history = pd.DataFrame(
        {
            "unique_id": "new",
            "ds": pd.date_range("2025-01-06", periods=8, freq="W-MON"),
            "y": y,
            "censored": censored,
        }
    )
    _, diagnostics = forecast_with_diagnostics(history, horizon=4, season_length=52, freq="W-MON")
    filled = censoring.unconstrain(y, censored, season_length=52)
    imputed = np.nan_to_num(filled.variance)
    assert imputed[censored].min() > 0 and imputed[~censored].max() == 0
    spread = np.var(filled.values, ddof=1)
    assert diagnostics.loc[0, "model"] == "recent_mean"
    assert diagnostics.loc[0, "sigma"] == pytest.approx(
        np.sqrt((spread + imputed.mean()) * (1 + 1 / 8))
    )
    assert diagnostics.loc[0, "sigma"] > np.sqrt(spread * (1 + 1 / 8)) * 1.05


def test_a_launch_too_short_to_backtest_is_forecast_at_its_recent_level():
    """Eight weeks of a launch ramping from 0 to 14 a week (no backtest fits): the forecast is
    the mean of the latest four weeks, not of all eight, which lags the ramp by half."""
    y = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0])
    history = pd.DataFrame(
        {"unique_id": "new", "ds": pd.date_range("2025-01-06", periods=8, freq="W-MON"), "y": y}
    )
    frame, diagnostics = forecast_with_diagnostics(
        history, horizon=4, season_length=52, freq="W-MON"
    )
    assert diagnostics.loc[0, "model"] == "recent_mean"
    assert frame.yhat.to_numpy() == pytest.approx([(8 + 10 + 12 + 14) / 4] * 4)
