"""The seasonal combination rule (1 < season_length <= 24) against direct computations.

Expected values come from statsmodels' ThetaModel and ExponentialSmoothing called directly and
from the last season repeated by hand, never from the package's model classes.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.forecasting.theta import ThetaModel
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from forecasting import forecast, forecast_with_diagnostics
from forecasting import select as select_module
from forecasting.models import Combination, DampedSeasonalETS, Drift, Model, Naive, Theta
from forecasting.select import candidates, forecast_series

COMBINED = {"seasonal_combination"}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def frame_of(y: np.ndarray, freq: str, uid: str = "s") -> pd.DataFrame:
    ds = pd.date_range("2000-01-01", periods=len(y), freq=freq)
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": y})


def seasonal_series(n: int, m: int, seed: int, level: float = 200.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    season = 1 + 0.25 * np.sin(2 * np.pi * t / m) + 0.1 * np.cos(4 * np.pi * t / m)
    return (level + 1.5 * t) * season + rng.normal(0, 4, n)


def theta_direct(y: np.ndarray, m: int, h: int) -> np.ndarray:
    seasonal = len(y) >= 2 * m
    model = ThetaModel(y, period=m if seasonal else None, deseasonalize=seasonal)
    return np.asarray(model.fit().forecast(h))


def holt_winters_fit(y: np.ndarray, m: int, seasonal: str | None):
    return ExponentialSmoothing(
        y,
        trend="add",
        damped_trend=True,
        seasonal=seasonal,
        seasonal_periods=m if seasonal else None,
        initialization_method="estimated",
    ).fit(use_brute=False)


def last_season(y: np.ndarray, m: int, h: int) -> np.ndarray:
    return np.array([y[len(y) - m + (k % m)] for k in range(h)])


def test_smooth_monthly_series_is_the_mean_of_theta_damped_holt_winters_and_seasonal_naive():
    m, h = 12, 18
    y = seasonal_series(96, m, seed=4)
    frame, diagnostics = forecast_with_diagnostics(
        frame_of(y, "MS"), horizon=h, season_length=m, freq="MS"
    )
    expected = (
        theta_direct(y, m, h) + holt_winters_fit(y, m, "mul").forecast(h) + last_season(y, m, h)
    ) / 3
    assert frame.yhat.to_numpy() == pytest.approx(expected, rel=1e-9)
    assert set(frame.model) == COMBINED
    assert diagnostics.demand_class.iloc[0] == "smooth"

    # Backtest (for sigma and the scores only): 96 periods, h_b = 18, origins 42, 60, 78.
    # Theta and seasonal naive are refitted at each origin; Holt-Winters is estimated at the
    # first origin and its recursions run on with those parameters to the later ones.
    origins, h_b = [42, 60, 78], 18
    first = holt_winters_fit(y[:42], m, "mul")
    p = first.params
    rows = []
    for origin in origins:
        train = y[:origin]
        if origin == origins[0]:
            ets = first.forecast(h_b)
        else:
            ets = (
                ExponentialSmoothing(
                    train,
                    trend="add",
                    damped_trend=True,
                    seasonal="mul",
                    seasonal_periods=m,
                    initialization_method="known",
                    initial_level=p["initial_level"],
                    initial_trend=p["initial_trend"],
                    initial_seasonal=p["initial_seasons"],
                )
                .fit(
                    optimized=False,
                    smoothing_level=p["smoothing_level"],
                    smoothing_trend=p["smoothing_trend"],
                    smoothing_seasonal=p["smoothing_seasonal"],
                    damping_trend=p["damping_trend"],
                )
                .forecast(h_b)
            )
        rows.append((theta_direct(train, m, h_b) + ets + last_season(train, m, h_b)) / 3)
    errors = np.maximum(np.vstack(rows), 0) - np.vstack([y[o : o + h_b] for o in origins])
    scale = np.mean(np.abs(y[m:42] - y[: 42 - m]))  # seasonal differences before origin 1
    assert diagnostics.sigma.iloc[0] == pytest.approx(np.sqrt(np.mean(errors**2)), rel=1e-6)
    assert diagnostics.mase.iloc[0] == pytest.approx(np.mean(np.abs(errors)) / scale, rel=1e-6)


def test_quarterly_series_with_a_zero_use_the_additive_season():
    m, h = 4, 8
    y = seasonal_series(40, m, seed=8, level=60.0)
    y[3] = 0.0  # not strictly positive: additive season for Holt-Winters
    frame = forecast(frame_of(y, "QS"), horizon=h, season_length=m, freq="QS")
    expected = (
        theta_direct(y, m, h) + holt_winters_fit(y, m, "add").forecast(h) + last_season(y, m, h)
    ) / 3
    assert set(frame.model) == COMBINED
    assert frame.yhat.to_numpy() == pytest.approx(np.maximum(expected, 0), rel=1e-9)


def test_short_first_window_is_backtested_without_the_season_and_forecast_with_it():
    # 48 months, horizon 18: origins 12, 24, 36, so the first window holds one season only.
    m, h = 12, 18
    y = seasonal_series(48, m, seed=5)
    pool = candidates("smooth", y[:12], m)
    assert [model.name for model in pool] == ["seasonal_combination"]
    frame = forecast(frame_of(y, "MS"), horizon=h, season_length=m, freq="MS")
    expected = (
        theta_direct(y, m, h) + holt_winters_fit(y, m, "mul").forecast(h) + last_season(y, m, h)
    ) / 3
    assert set(frame.model) == COMBINED
    assert frame.yhat.to_numpy() == pytest.approx(expected, rel=1e-9)


def holt_known(y: np.ndarray, params, h: int) -> np.ndarray:
    """Holt's damped trend run on ``y`` with parameters estimated elsewhere."""
    return np.asarray(
        ExponentialSmoothing(
            y,
            trend="add",
            damped_trend=True,
            initialization_method="known",
            initial_level=params["initial_level"],
            initial_trend=params["initial_trend"],
        )
        .fit(
            optimized=False,
            smoothing_level=params["smoothing_level"],
            smoothing_trend=params["smoothing_trend"],
            damping_trend=params["damping_trend"],
        )
        .forecast(h)
    )


def test_first_window_shorter_than_a_season_backtests_without_seasonal_naive():
    # 34 months, horizon 18: h_b = 8, origins 10, 18, 26. At origin 10 seasonal naive has no
    # full season and sits out of the mean; Holt's damped trend is estimated there (no
    # season before 24 months) and run on with those parameters.
    m, h, h_b, origins = 12, 18, 8, [10, 18, 26]
    y = seasonal_series(34, m, seed=9)
    frame, diagnostics = forecast_with_diagnostics(
        frame_of(y, "MS"), horizon=h, season_length=m, freq="MS"
    )
    expected = (
        theta_direct(y, m, h) + holt_winters_fit(y, m, "mul").forecast(h) + last_season(y, m, h)
    ) / 3
    assert set(frame.model) == COMBINED
    assert frame.yhat.to_numpy() == pytest.approx(expected, rel=1e-9)

    first = holt_winters_fit(y[:10], m, None)
    rows = [(theta_direct(y[:10], m, h_b) + first.forecast(h_b)) / 2]
    for origin in origins[1:]:
        train = y[:origin]
        members = [
            theta_direct(train, m, h_b),
            holt_known(train, first.params, h_b),
            last_season(train, m, h_b),
        ]
        rows.append(np.mean(members, axis=0))
    errors = np.maximum(np.vstack(rows), 0) - np.vstack([y[o : o + h_b] for o in origins])
    assert diagnostics.sigma.iloc[0] == pytest.approx(np.sqrt(np.mean(errors**2)), rel=1e-6)


def test_members_are_clipped_at_zero_on_non_negative_data():
    # Falling by 2 a period: drift forecasts 0, -2, -4 and naive 2, 2, 2.
    y = np.array([10.0, 8.0, 6.0, 4.0, 2.0])
    clipped = Combination([Drift(), Naive()], non_negative=True).fit(y).predict(3)
    assert clipped == pytest.approx([1.0, 1.0, 1.0])  # (max(0, d) + 2) / 2
    assert Combination([Drift(), Naive()]).fit(y).predict(3) == pytest.approx([1.0, 0.0, -1.0])
    # Data with a negative value are not clipped.
    assert Combination([Drift(), Naive()], non_negative=True).fit(y - 3).predict(1) == (
        pytest.approx([-2.0])  # (-3 + -1) / 2
    )


def test_damped_seasonal_ets_adds_the_season_once_two_are_available():
    m = 12
    y = seasonal_series(60, m, seed=2)
    short = y[:20]
    holt = holt_winters_fit(short, m, None).forecast(6)
    assert DampedSeasonalETS(m).fit(short).predict(6) == pytest.approx(holt, rel=1e-9)
    hw = holt_winters_fit(y, m, "mul").forecast(6)
    assert DampedSeasonalETS(m).fit(y).predict(6) == pytest.approx(hw, rel=1e-9)
    # The backtest's form comes from its first window: no season at origin 20.
    rows = DampedSeasonalETS(m).backtest(y, [20, 40], 6)
    assert rows[0] == pytest.approx(holt, rel=1e-9)


def test_series_too_short_to_backtest_get_the_seasonal_combination():
    # 10 quarters, horizon 8: too short for a backtest (8 training periods plus 3 windows).
    m, h = 4, 8
    y = seasonal_series(10, m, seed=1)
    frame, diagnostics = forecast_with_diagnostics(
        frame_of(y, "QS"), horizon=h, season_length=m, freq="QS"
    )
    expected = (
        theta_direct(y, m, h) + holt_winters_fit(y, m, "mul").forecast(h) + last_season(y, m, h)
    ) / 3
    assert set(frame.model) == COMBINED
    assert frame.yhat.to_numpy() == pytest.approx(expected, rel=1e-9)
    sd = np.std(y, ddof=1) * np.sqrt(1 + 1 / len(y))
    assert diagnostics.sigma.iloc[0] == pytest.approx(sd)
    assert np.isnan(diagnostics.mase.iloc[0])


def test_weekly_series_keep_the_per_method_candidates():
    rng = np.random.default_rng(0)
    t = np.arange(104)
    y = rng.poisson(30 * (1 + 0.4 * np.sin(2 * np.pi * t / 52))).astype(float)
    names = [model.name for model in candidates("smooth", y[:65], 52)]
    assert names == ["ses", "ets_damped", "moving_average", "seasonal_naive"]
    frame = forecast(frame_of(y, "W-MON"), horizon=13, season_length=52, freq="W-MON")
    assert set(frame.model).isdisjoint(COMBINED | {"combination"})
    # A season just above MAX_SEASON_LENGTH is not combined either.
    assert "seasonal_combination" not in [m.name for m in candidates("smooth", y[:60], 25)]


def test_intermittent_and_lumpy_monthly_series_keep_the_croston_family():
    y = np.zeros(72)
    y[::3] = np.random.default_rng(3).integers(1, 6, 24)
    for demand_class in ("intermittent", "lumpy"):
        names = [model.name for model in candidates(demand_class, y[:36], 12)]
        assert names == ["sba", "tsb", "croston", "moving_average", "mean"]
    frame, diagnostics = forecast_with_diagnostics(
        frame_of(y, "MS"), horizon=12, season_length=12, freq="MS"
    )
    assert diagnostics.demand_class.iloc[0] == "intermittent"
    assert set(frame.model) <= {"sba", "tsb", "croston", "moving_average", "mean"}


def test_series_with_a_pooled_profile_are_not_combined():
    m = 12
    y = seasonal_series(72, m, seed=6)
    profiles = pd.DataFrame(
        {
            "unique_id": "s",
            "season_position": np.arange(m),
            "factor": 1 + 0.25 * np.sin(2 * np.pi * np.arange(m) / m),
        }
    )
    frame = forecast(frame_of(y, "MS"), horizon=12, season_length=m, freq="MS", profiles=profiles)
    assert set(frame.model).isdisjoint(COMBINED)


class _Failing(Model):
    name = "failing"
    min_obs = 1

    def fit(self, y: np.ndarray) -> Model:
        raise ValueError("cannot fit")


def test_a_combination_that_cannot_fit_falls_back_to_the_per_method_candidates(monkeypatch):
    m = 12
    y = seasonal_series(72, m, seed=7)
    broken = Combination([Theta(m), _Failing()], name="seasonal_combination")
    monkeypatch.setattr(select_module, "seasonal_combination", lambda season_length: broken)
    result = forecast_series(y, horizon=12, season_length=m, level=95)
    per_method = [model.name for model in candidates("smooth", y[:36], m, combine=False)]
    assert result.model in per_method
    assert np.all(np.isfinite(result.yhat)) and np.isfinite(result.sigma)


def test_a_zero_after_the_first_origin_makes_the_backtest_season_additive():
    # Origins 42, 60, 78: the first window is strictly positive, the zero at 50 is not.
    m, h = 12, 18
    y = seasonal_series(96, m, seed=10)
    y[50] = 0.0
    rows = DampedSeasonalETS(m).backtest(y, [42, 60, 78], h)
    assert rows[0] == pytest.approx(holt_winters_fit(y[:42], m, "add").forecast(h), rel=1e-9)
    frame = forecast(frame_of(y, "MS"), horizon=h, season_length=m, freq="MS")
    expected = (
        theta_direct(y, m, h) + holt_winters_fit(y, m, "add").forecast(h) + last_season(y, m, h)
    ) / 3
    assert set(frame.model) == COMBINED
    assert frame.yhat.to_numpy() == pytest.approx(np.maximum(expected, 0), rel=1e-9)
