"""Pooled growth: the slope against scipy's regression, recovery, shrinkage, forecasts."""

import numpy as np
import pandas as pd
import pytest

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


def by_hand(series: dict, ids: list[str], window: int = 13, lag: int = 52):
    """The module docstring's year-on-year rate and standard error for one key, by hand."""
    recent = np.array([np.sum(series[i][-window:]) for i in ids], dtype=float)
    before = np.array([np.sum(series[i][-window - lag : -lag]) for i in ids], dtype=float)
    rate = np.log(recent.sum() / before.sum())
    poisson = 1 / recent.sum() + 1 / before.sum()
    dispersion = 1.0
    if len(ids) >= 3:
        ratios = np.log(recent / before)
        dispersion = max(1.0, np.mean((ratios - rate) ** 2 / (1 / recent + 1 / before)))
    return rate / lag, np.sqrt(dispersion * poisson) / lag


def test_growth_is_the_year_on_year_log_ratio_shrunk_by_its_signal_to_noise_weight():
    rng = np.random.default_rng(5)
    t = np.arange(70)
    series = {f"D{i}|A": rng.poisson((10 + 5 * i) * np.exp(0.006 * t)) for i in range(3)}
    series["D9|A"] = rng.poisson(20, 20)  # too young to pair; still gets A's growth
    series["D0|B"] = rng.poisson(30, 70)
    history = panel(series)
    result = pooled_growth(history, keys=keys_of(history), **WEEKLY)

    raw, se = by_hand(series, ["D0|A", "D1|A", "D2|A"])
    # fewer than five keys: each key's own weight g^2 / (g^2 + se^2)
    assert growth_of(result, "D0|A") == pytest.approx(raw * raw**2 / (raw**2 + se**2), rel=1e-9)
    assert growth_of(result, "D9|A") == growth_of(result, "D0|A")
    assert 0.004 < growth_of(result, "D0|A") < 0.008  # the true 0.006 a week, through the noise


def test_with_many_keys_each_is_shrunk_toward_the_median_by_the_empirical_bayes_weight():
    rng = np.random.default_rng(21)
    t = np.arange(70)
    true = rng.normal(0.001, 0.003, 10)  # weekly growth of ten SKUs
    series = {
        f"D{i}|K{k}": rng.poisson((6 + 3 * i) * np.exp(rate * t))
        for k, rate in enumerate(true)
        for i in range(3)
    }
    history = panel(series)
    result = pooled_growth(history, keys=keys_of(history), **WEEKLY)

    # By hand: m + w (g - m), w = tau^2 / (tau^2 + se^2), tau^2 = (1.4826 MAD)^2 - median(se^2)
    raw, se = np.transpose([by_hand(series, [f"D{i}|K{k}" for i in range(3)]) for k in range(10)])
    m = np.median(raw)
    tau2 = (1.4826 * np.median(np.abs(raw - m))) ** 2 - np.median(se**2)
    assert tau2 > 0
    expected = np.clip(m + tau2 / (tau2 + se**2) * (raw - m), -0.5 / 52, 0.5 / 52)
    got = np.array([growth_of(result, f"D0|K{k}") for k in range(10)])
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_exact_exponential_growth_is_recovered_whatever_the_season():
    t = np.arange(104)
    season = 1 + 0.8 * np.cos(2 * np.pi * t / 52)  # a strong season, no profile given
    history = panel({f"D{i}|UP": (8000 + 4000 * i) * season * np.exp(0.004 * t) for i in range(4)})
    result = pooled_growth(history, keys=keys_of(history), **WEEKLY)
    # noise-free: the log ratio is exactly 52 g; with sales this large the Poisson error left
    # in the shrinkage weight is tiny (the same sums of 8-20 units a week would lose a fifth)
    assert growth_of(result, "D0|UP") == pytest.approx(0.004, rel=1e-3)


def test_growth_is_capped_and_censored_weeks_are_left_out():
    t = np.arange(70)
    history = panel({f"D{i}|HOT": 5 * np.exp(0.05 * t) for i in range(3)})
    result = pooled_growth(history, keys=keys_of(history), **WEEKLY)
    assert growth_of(result, "D0|HOT") == pytest.approx(MAX_GROWTH_PER_SEASON / 52)

    # A flat series whose late weeks sold little because the shelf was empty: read as
    # sales, they would look like a decline; flagged as censored they are left out.
    y = np.full(70, 20.0)
    y[-12:] = 4.0
    flat = panel({"D0|S": y, "D1|S": np.full(70, 20.0)})
    as_sales = pooled_growth(flat, keys=keys_of(flat), **WEEKLY)
    censored = flat.assign(censored=(flat.unique_id == "D0|S") & (flat.y == 4.0))
    as_bounds = pooled_growth(censored, keys=keys_of(censored), **WEEKLY)
    assert growth_of(as_sales, "D0|S") < -0.005
    assert growth_of(as_bounds, "D0|S") == pytest.approx(0.0, abs=1e-12)


def test_growth_brings_the_forecast_of_a_growing_sku_closer_to_its_demand():
    weeks, ahead, rate = 104, 8, 0.3 / 52  # 30 % a year, shared by the SKU's six dealers
    truth = {f"D{i}|G": (10 + 3 * i) * np.exp(rate * np.arange(weeks + ahead)) for i in range(6)}
    want = sum(mu[weeks:].sum() for mu in truth.values())
    plain_bias, grown_bias = [], []
    for seed in (1, 2, 3):
        rng = np.random.default_rng(seed)
        history = panel({uid: rng.poisson(mu[:weeks]) for uid, mu in truth.items()})
        profiles = seasonal_profiles(history, groups=None, **WEEKLY)
        growth = pooled_growth(history, keys=keys_of(history), **WEEKLY)
        assert growth_of(growth, "D0|G") * 52 == pytest.approx(0.3, abs=0.06)
        plain = forecast(history, horizon=ahead, profiles=profiles, **WEEKLY)
        grown = forecast(history, horizon=ahead, profiles=with_growth(profiles, growth), **WEEKLY)
        # The profile is flat (no season in this panel): the names say what was applied.
        assert grown.model.str.endswith("+growth").all()
        assert not plain.model.str.contains("growth").any()
        plain_bias.append(plain.yhat.sum() / want - 1.0)
        grown_bias.append(grown.yhat.sum() / want - 1.0)
    # Seen: -5.0, -7.0 and -4.7 % without the growth (the level lags); -0.4, -2.1 and -0.2 %
    # with it.
    assert max(plain_bias) < -0.03
    assert np.mean(np.abs(grown_bias)) < 0.5 * np.mean(np.abs(plain_bias))


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
