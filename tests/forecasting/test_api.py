"""The forecast() / forecast_with_diagnostics() contract."""

import numpy as np
import pandas as pd
import pytest

from forecasting import classify_demand, forecast, forecast_chunk, forecast_with_diagnostics
from forecasting.api import DIAGNOSTIC_COLUMNS, FORECAST_COLUMNS

WEEKLY = {"season_length": 52, "freq": "W-MON"}


def long_frame(series: dict, start="2023-01-02", freq="W-MON") -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "unique_id": uid,
                "ds": pd.date_range(start, periods=len(y), freq=freq),
                "y": np.asarray(y, dtype=float),
            }
        )
        for uid, y in series.items()
    ]
    return pd.concat(frames, ignore_index=True)


def weekly_mix(n_series=60, n_weeks=104, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(n_weeks)
    series = {}
    for i in range(n_series):
        rate = np.exp(rng.normal(0, 1.2))
        season = 1 + 0.4 * np.sin(2 * np.pi * t / 52 + rng.uniform(0, 6))
        series[f"s{i:03d}"] = rng.poisson(rate * season)
    return series


@pytest.fixture(scope="module")
def weekly_result():
    history = long_frame(weekly_mix())
    return history, *forecast_with_diagnostics(history, horizon=13, **WEEKLY)


def test_frame_shape_columns_and_dates(weekly_result):
    history, frame, diagnostics = weekly_result
    assert list(frame.columns) == FORECAST_COLUMNS
    assert list(diagnostics.columns) == DIAGNOSTIC_COLUMNS
    assert frame.groupby("unique_id").size().eq(13).all()
    assert sorted(diagnostics.unique_id) == sorted(history.unique_id.unique())
    last = history.ds.max()
    expected = pd.date_range(last + pd.Timedelta(weeks=1), periods=13, freq="W-MON")
    for _, group in frame.groupby("unique_id"):
        assert list(group.ds) == list(expected)


def test_no_nan_no_negative_and_intervals_contain_the_forecast(weekly_result):
    _, frame, _ = weekly_result
    numbers = frame[["yhat", "yhat_lo", "yhat_hi"]]
    assert not numbers.isna().any().any()
    assert (numbers >= 0).all().all()
    assert (frame.yhat_lo <= frame.yhat).all() and (frame.yhat <= frame.yhat_hi).all()


def test_diagnostics_classes_match_classify_demand(weekly_result):
    history, _, diagnostics = weekly_result
    for uid, group in history.groupby("unique_id"):
        row = diagnostics.set_index("unique_id").loc[uid]
        demand_class, adi, cv2 = classify_demand(group.y.to_numpy())
        assert row.demand_class == demand_class
        assert row.adi == pytest.approx(adi) and row.cv2 == pytest.approx(cv2)
        assert row.n_obs == 104
    backtested = diagnostics[diagnostics.demand_class != "zero"]
    assert np.isfinite(backtested[["sigma", "mase", "wape", "bias"]]).all().all()


def test_intermittent_series_get_intermittent_methods(weekly_result):
    _, _, diagnostics = weekly_result
    sparse = diagnostics[diagnostics.demand_class.isin(["intermittent", "lumpy"])]
    assert len(sparse) > 5
    assert set(sparse.model) <= {"croston", "sba", "tsb", "moving_average", "mean"}


def test_sigma_is_backtest_error_not_raw_spread():
    trend = np.arange(1, 105, dtype=float) * 2  # perfectly forecastable, raw sd ~60
    _, diagnostics = forecast_with_diagnostics(long_frame({"t": trend}), horizon=4, **WEEKLY)
    assert diagnostics.sigma.iloc[0] < 1.0 < np.std(trend)
    assert diagnostics.model.iloc[0] == "ets_damped"


def test_all_zero_series_forecasts_zero():
    frame, diagnostics = forecast_with_diagnostics(
        long_frame({"z": np.zeros(60)}), horizon=5, **WEEKLY
    )
    assert (frame[["yhat", "yhat_lo", "yhat_hi"]] == 0).all().all()
    assert diagnostics.demand_class.iloc[0] == "zero"


def test_one_point_series_forecasts_that_point():
    frame = forecast(long_frame({"one": [7.0]}), horizon=3, **WEEKLY)
    assert len(frame) == 3
    assert frame.yhat.tolist() == pytest.approx([7.0] * 3)
    assert (frame.yhat_lo <= 7).all() and (frame.yhat_hi >= 7).all()


def test_series_with_gaps_treats_missing_weeks_as_missing():
    rng = np.random.default_rng(5)
    history = long_frame({"g": 10 + rng.normal(0, 1, 80).round()})
    history = history.drop(index=[5, 6, 7, 40, 41, 70]).reset_index(drop=True)
    frame, diagnostics = forecast_with_diagnostics(history, horizon=6, **WEEKLY)
    assert len(frame) == 6
    assert frame.ds.iloc[0] == history.ds.max() + pd.Timedelta(weeks=1)
    assert frame.yhat.between(8, 12).all()
    assert diagnostics.n_obs.iloc[0] == 74


def test_censored_weeks_do_not_pull_the_forecast_to_zero():
    base = np.full(60, 10.0)
    censored, zeroed = base.copy(), base.copy()
    weeks = [10, 11, 25, 26, 27, 40, 50, 55, 56, 57, 58]
    censored[weeks] = np.nan
    zeroed[weeks] = 0.0
    history = long_frame({"censored": censored, "zeroed": zeroed})
    frame = forecast(history, horizon=4, **WEEKLY).groupby("unique_id").yhat.mean()
    assert frame["censored"] == pytest.approx(10.0, abs=0.5)
    assert frame["zeroed"] < frame["censored"] - 1.0


def test_monthly_seasonal_series():
    t = np.arange(72)
    pattern = 50 + 30 * np.sin(2 * np.pi * t / 12)
    y = np.round(pattern + np.random.default_rng(1).normal(0, 2, 72))
    frame, diagnostics = forecast_with_diagnostics(
        long_frame({"m": y}, start="2019-01-01", freq="MS"),
        horizon=12,
        season_length=12,
        freq="MS",
    )
    assert frame.ds.iloc[0] == pd.Timestamp("2025-01-01")
    future = 50 + 30 * np.sin(2 * np.pi * np.arange(72, 84) / 12)
    assert np.corrcoef(frame.yhat, future)[0, 1] > 0.95
    assert diagnostics.model.iloc[0] == "seasonal_combination"


def test_no_seasonality_daily():
    rng = np.random.default_rng(2)
    history = long_frame({"d": rng.poisson(4, 50)}, start="2024-03-01", freq="D")
    frame = forecast(history, horizon=7, season_length=1, freq="D")
    assert len(frame) == 7 and frame.yhat.between(2, 6).all()
    assert frame.ds.iloc[0] == pd.Timestamp("2024-04-20")


def test_interval_coverage_on_poisson_demand():
    rng = np.random.default_rng(42)
    n_series, n_hist, horizon = 300, 104, 13
    rates = rng.uniform(0.5, 15, n_series)
    y = rng.poisson(rates[:, None], size=(n_series, n_hist + horizon))
    history = long_frame({i: row[:n_hist] for i, row in enumerate(y)})
    frame = forecast(history, horizon=horizon, **WEEKLY).sort_values(["unique_id", "ds"])
    actual = y[:, n_hist:].ravel()
    inside = (frame.yhat_lo.to_numpy() <= actual) & (actual <= frame.yhat_hi.to_numpy())
    assert 0.88 <= inside.mean() <= 0.99


def test_parallel_and_chunked_runs_match_the_serial_run():
    history = long_frame({f"p{i}": np.random.default_rng(i).poisson(0.7, 60) for i in range(420)})
    serial = forecast_with_diagnostics(history, horizon=4, **WEEKLY)
    parallel = forecast_with_diagnostics(history, horizon=4, n_jobs=2, **WEEKLY)
    pd.testing.assert_frame_equal(serial[0], parallel[0])
    pd.testing.assert_frame_equal(serial[1], parallel[1])
    halves = [
        history[history.unique_id.isin([f"p{i}" for i in ids])]
        for ids in (range(0, 200), range(200, 420))
    ]
    chunked = [forecast_chunk(half, horizon=4, **WEEKLY) for half in halves]
    joined = pd.concat([c[0] for c in chunked]).sort_values(["unique_id", "ds"])
    pd.testing.assert_frame_equal(joined.reset_index(drop=True), serial[0])


def test_bad_inputs_raise_clear_errors():
    good = long_frame({"a": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="missing column.*y"):
        forecast(good.drop(columns="y"), horizon=2, **WEEKLY)
    with pytest.raises(ValueError, match="horizon"):
        forecast(good, horizon=0, **WEEKLY)
    with pytest.raises(ValueError, match="level"):
        forecast(good, horizon=2, level=100, **WEEKLY)
    with pytest.raises(ValueError, match="season_length"):
        forecast(good, horizon=2, season_length=0, freq="W-MON")
    with pytest.raises(ValueError, match="freq"):
        forecast(good, horizon=2, season_length=52, freq="fortnightly")
    with pytest.raises(ValueError, match="more than one row"):
        forecast(pd.concat([good, good.iloc[[0]]]), horizon=2, **WEEKLY)
    with pytest.raises(ValueError, match="not on the freq"):
        forecast(good.assign(ds=good.ds + pd.Timedelta(days=1)), horizon=2, **WEEKLY)
    with pytest.raises(ValueError, match="numeric"):
        forecast(good.assign(y=["a", "b", "c"]), horizon=2, **WEEKLY)


def test_negative_values_are_allowed_and_not_clipped():
    y = np.r_[np.full(30, -5.0), np.full(30, -6.0)]
    frame = forecast(long_frame({"r": y}), horizon=3, **WEEKLY)
    assert (frame.yhat < 0).all()
