"""Pooled growth: the slope against scipy's regression, recovery, shrinkage, forecasts."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecasting import forecast, pooled_growth, seasonal_profiles, with_growth
from forecasting.growth import MAX_GROWTH_PER_SEASON

WEEKLY = {"season_length": 52, "freq": "W-MON"}


def panel(series: dict, start: str = "2023-01-02") -> pd.DataFrame:
    """Weekly long frame; each series ends on the same week, so shorter ones start later."""
    end = pd.Timestamp(start) + pd.Timedelta(weeks=max(len(y) for y in series.values()) - 1)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": pd.date_range(end=end, periods=len(y), freq="W-MON"),
                    "y": np.asarray(y, dtype=float),
                }
            )
            for uid, y in series.items()
        ],
        ignore_index=True,
    )


def keys_of(history: pd.DataFrame) -> pd.DataFrame:
    ids = pd.Series(history.unique_id.unique())
    return pd.DataFrame({"unique_id": ids, "sku": ids.str.split("|").str[1]})


def growth_of(result: pd.DataFrame, uid: str) -> float:
    return float(result.set_index("unique_id").growth[uid])


def test_growth_matches_scipy_regression_on_the_pooled_index_and_the_shrinkage_by_hand():
    rng = np.random.default_rng(5)
    t = np.arange(60)
    series = {
        f"D{i}|A": rng.normal(1.0, 0.08, 60) * (10 + 5 * i) * np.exp(0.006 * t) for i in range(3)
    }
    series["D9|A"] = rng.normal(20, 2, 20)  # too young to count; still gets A's growth
    series["D0|B"] = rng.normal(30, 3, 60)
    history = panel(series)
    result = pooled_growth(history, keys=keys_of(history), **WEEKLY)

    # By hand: the last 52 weeks of the three older A series, each over its own mean.
    window = np.array([series[f"D{i}|A"][-52:] for i in range(3)])
    index = (window / window.mean(axis=1, keepdims=True)).mean(axis=0)
    fit = stats.linregress(np.arange(52), index)
    raw, raw_se = fit.slope / index.mean(), fit.stderr / index.mean()
    expected = raw * raw**2 / (raw**2 + raw_se**2)
    assert growth_of(result, "D0|A") == pytest.approx(expected, rel=1e-9)
    assert growth_of(result, "D9|A") == growth_of(result, "D0|A")
    assert 0.004 < expected < 0.008  # the true 0.006 a week, through the noise


def test_with_many_keys_each_is_shrunk_toward_the_median_by_the_empirical_bayes_weight():
    rng = np.random.default_rng(21)
    t = np.arange(60)
    true = rng.normal(0.001, 0.003, 10)  # weekly growth of ten SKUs
    series = {
        f"D{i}|K{k}": rng.normal(1.0, 0.15, 60) * (8 + 3 * i) * np.exp(rate * t)
        for k, rate in enumerate(true)
        for i in range(3)
    }
    history = panel(series)
    result = pooled_growth(history, keys=keys_of(history), **WEEKLY)

    # By hand, the module docstring's recipe: each key's slope over its mean index, then
    # m + w (g - m), w = tau^2 / (tau^2 + se^2), tau^2 = (1.4826 MAD)^2 - median(se^2).
    raw, se = np.empty(10), np.empty(10)
    for k in range(10):
        window = np.array([series[f"D{i}|K{k}"][-52:] for i in range(3)])
        index = (window / window.mean(axis=1, keepdims=True)).mean(axis=0)
        fit = stats.linregress(np.arange(52), index)
        raw[k], se[k] = fit.slope / index.mean(), fit.stderr / index.mean()
    m = np.median(raw)
    tau2 = (1.4826 * np.median(np.abs(raw - m))) ** 2 - np.median(se**2)
    assert tau2 > 0
    expected = np.clip(m + tau2 / (tau2 + se**2) * (raw - m), -0.5 / 52, 0.5 / 52)
    got = np.array([growth_of(result, f"D0|K{k}") for k in range(10)])
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # and it is what shrinkage is for: nearer the true rates than the raw slopes
    assert np.abs(got - true).mean() < np.abs(raw - true).mean()


def test_exact_exponential_growth_is_recovered_and_noise_alone_is_shrunk_to_almost_none():
    rng = np.random.default_rng(8)
    t = np.arange(104)
    series = {f"D{i}|UP": (8 + 4 * i) * np.exp(0.004 * t) for i in range(4)}
    series.update({f"D{i}|FLAT": rng.poisson(6.0, 104) for i in range(4)})
    history = panel(series)
    result = pooled_growth(history, keys=keys_of(history), **WEEKLY)
    assert growth_of(result, "D0|UP") == pytest.approx(0.004, rel=0.03)
    # Poisson noise around a flat level: the raw slope is noise (standard error about 10 % a
    # year here) and the shrinkage keeps only its signal-to-noise share of it.
    window = np.array([series[f"D{i}|FLAT"][-52:] for i in range(4)], dtype=float)
    index = (window / window.mean(axis=1, keepdims=True)).mean(axis=0)
    fit = stats.linregress(np.arange(52), index)
    raw, raw_se = fit.slope / index.mean(), fit.stderr / index.mean()
    shrunk = growth_of(result, "D0|FLAT")
    assert shrunk == pytest.approx(raw * raw**2 / (raw**2 + raw_se**2), rel=1e-9)
    assert abs(shrunk) < abs(raw) and abs(shrunk) * 52 < 0.1


def test_growth_is_capped_and_censored_weeks_are_left_out():
    t = np.arange(60)
    history = panel({f"D{i}|HOT": 5 * np.exp(0.05 * t) for i in range(3)})
    result = pooled_growth(history, keys=keys_of(history), **WEEKLY)
    assert growth_of(result, "D0|HOT") == pytest.approx(MAX_GROWTH_PER_SEASON / 52)

    # A flat series whose late weeks sold little because the shelf was empty: read as
    # sales, they would look like a decline; flagged as censored they are left out.
    y = np.full(60, 20.0)
    y[-12:] = 4.0
    flat = panel({"D0|S": y, "D1|S": np.full(60, 20.0)})
    as_sales = pooled_growth(flat, keys=keys_of(flat), **WEEKLY)
    censored = flat.assign(censored=(flat.unique_id == "D0|S") & (flat.y == 4.0))
    as_bounds = pooled_growth(censored, keys=keys_of(censored), **WEEKLY)
    assert growth_of(as_sales, "D0|S") < -0.005
    assert growth_of(as_bounds, "D0|S") == pytest.approx(0.0, abs=1e-12)


def test_growth_brings_the_forecast_of_a_growing_sku_closer_to_its_demand():
    rng = np.random.default_rng(13)
    weeks, ahead, rate = 104, 8, 0.3 / 52  # 30 % a year, shared by the SKU's six dealers
    truth = {f"D{i}|G": (10 + 3 * i) * np.exp(rate * np.arange(weeks + ahead)) for i in range(6)}
    history = panel({uid: rng.poisson(mu[:weeks]) for uid, mu in truth.items()})
    profiles = seasonal_profiles(history, groups=None, **WEEKLY)
    growth = pooled_growth(history, keys=keys_of(history), profiles=profiles, **WEEKLY)
    plain = forecast(history, horizon=ahead, profiles=profiles, **WEEKLY)
    grown = forecast(history, horizon=ahead, profiles=with_growth(profiles, growth), **WEEKLY)

    def bias(frame):
        got = frame.groupby("unique_id").yhat.sum()
        want = pd.Series({uid: mu[weeks:].sum() for uid, mu in truth.items()})
        return float(got.sum() / want.sum() - 1.0)

    # The profile is flat (no season in this panel): the names say what was applied.
    assert grown.model.str.endswith("+growth").all()
    assert not plain.model.str.contains("growth").any()
    # Seen: -2.9 % without the growth (the level lags), +1.7 % with it.
    assert bias(plain) < -0.02
    assert abs(bias(grown)) < abs(bias(plain)) - 0.01
    assert growth_of(growth, "D0|G") * 52 == pytest.approx(0.3, abs=0.1)


def test_zero_growth_leaves_the_forecast_as_it_was():
    rng = np.random.default_rng(2)
    history = panel({f"D{i}|Z": rng.poisson(9.0, 80) for i in range(3)})
    profiles = seasonal_profiles(history, groups=None, **WEEKLY)
    zero = pd.DataFrame({"unique_id": history.unique_id.unique(), "growth": 0.0})
    pd.testing.assert_frame_equal(
        forecast(history, horizon=6, profiles=profiles, **WEEKLY),
        forecast(history, horizon=6, profiles=with_growth(profiles, zero), **WEEKLY),
    )


@pytest.mark.parametrize(
    "keys, message",
    [
        (pd.DataFrame({"unique_id": ["a|x"]}), "exactly one key column"),
        (pd.DataFrame({"unique_id": ["a|x", "a|x"], "sku": ["x", "x"]}), "more than one row"),
    ],
)
def test_bad_keys_raise_a_one_line_value_error(keys, message):
    history = panel({"a|x": np.ones(30)})
    with pytest.raises(ValueError, match=message) as error:
        pooled_growth(history, keys=keys, **WEEKLY)
    assert "\n" not in str(error.value)


def test_model_names_say_whether_a_season_a_growth_or_both_were_applied():
    from forecasting.inputs import to_series
    from forecasting.seasonality import factor_labels, series_factors

    history = panel({uid: np.ones(10) for uid in ("a", "b", "c", "d")})
    season = np.tile([0.5, 1.5], 2)  # a season of 4 periods
    rows = []
    for uid, seasonal, rate in (
        ("a", True, 0.01),
        ("b", False, 0.01),
        ("c", True, 0.0),
        ("d", False, 0.0),
    ):
        factor = season if seasonal else np.ones(4)
        rows.append(
            pd.DataFrame(
                {"unique_id": uid, "season_position": range(4), "factor": factor, "growth": rate}
            )
        )
    profiles = pd.concat(rows, ignore_index=True)
    series = to_series(history, "W-MON", horizon=2)
    assert factor_labels(profiles, series, 4) == ["season+growth", "growth", "season", ""]
    factors = series_factors(profiles, series, 4, "W-MON", 2)
    assert factors[3] is None
    # b: growth alone, e^(0.01 (t - 9)) over the ten periods and two ahead
    np.testing.assert_allclose(factors[1], np.exp(0.01 * (np.arange(12) - 9)))
    np.testing.assert_allclose(factors[0] / factors[2], factors[1])


def test_a_growth_that_is_not_finite_is_refused_with_one_line():
    history = panel({"a|x": np.arange(1.0, 31.0)})
    profiles = seasonal_profiles(history, groups=None, **WEEKLY).assign(growth=np.inf)
    with pytest.raises(ValueError, match="growth must be finite") as error:
        forecast(history, horizon=4, profiles=profiles, **WEEKLY)
    assert "\n" not in str(error.value)
