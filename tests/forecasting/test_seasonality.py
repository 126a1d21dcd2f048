"""Pooled seasonal profiles: the index against a hand computation, shrinkage, and forecasts."""

import numpy as np
import pandas as pd
import pytest

from forecasting import forecast, forecast_chunk, forecast_with_diagnostics, seasonal_profiles
from forecasting.models import ETS
from forecasting.seasonality import SeasonallyAdjusted, season_offset, shrinkage_weight

WEEKLY = {"season_length": 52, "freq": "W-MON"}
MONTHLY = {"season_length": 12, "freq": "MS"}


def long_frame(series: dict, start: str, freq: str) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": pd.date_range(start, periods=len(y), freq=freq),
                    "y": np.asarray(y, dtype=float),
                }
            )
            for uid, y in series.items()
        ],
        ignore_index=True,
    )


def profile_of(profiles: pd.DataFrame, uid: str) -> np.ndarray:
    rows = profiles[profiles.unique_id == uid].sort_values("season_position")
    return rows.factor.to_numpy()


MONTHLY_SEASON = np.array([0.7, 0.75, 0.9, 1.1, 1.3, 1.45, 1.4, 1.2, 1.0, 0.85, 0.7, 0.65])


@pytest.fixture(scope="module")
def monthly_panel():
    """Four long series with a known season (January first) and one series of 8 months."""
    rng = np.random.default_rng(42)
    t = np.arange(36)
    season = MONTHLY_SEASON / MONTHLY_SEASON.mean()
    series = {
        f"m{i}": rng.poisson(level * (1 + slope * t) * season[t % 12]).astype(float)
        for i, (level, slope) in enumerate([(800, 0.0), (1500, 0.004), (2500, -0.003), (4000, 0.0)])
    }
    series["new"] = rng.poisson(300 * season[:8]).astype(float)
    return series, season


def test_pooled_index_matches_a_hand_computed_ratio_to_moving_average(monthly_panel):
    series, season = monthly_panel
    history = long_frame(series, "2021-01-01", "MS")
    groups = pd.DataFrame({"unique_id": list(series), "category": "parts"})
    profiles = seasonal_profiles(history, groups=groups, **MONTHLY)

    # By hand: 2x12 centred moving average per long series, cut at the series' ends where
    # at least 2/3 of its weight is inside; per year and month the ratio of the sums over the
    # series, and per month the median over the years when there are three (else the ratio of
    # the sums over the years). Then twice more with the moving average of the series divided
    # by the previous index, where at least 0.4 of its weight is inside (passes 2 and 3).
    weights = np.r_[0.5, np.ones(11), 0.5] / 12

    def pooled_index(previous: np.ndarray, needed: float) -> np.ndarray:
        numerator, denominator = np.zeros((3, 12)), np.zeros((3, 12))
        for uid in ("m0", "m1", "m2", "m3"):
            y = series[uid]
            level = y / previous[np.arange(len(y)) % 12]
            for t in range(len(y)):
                k = np.arange(t - 6, t + 7)
                inside = (k >= 0) & (k < len(y))
                if weights[inside].sum() >= needed:
                    average = (weights * np.where(inside, level[k % len(y)], 0)).sum()
                    numerator[t // 12, t % 12] += y[t]
                    denominator[t // 12, t % 12] += average / weights[inside].sum()
        index = numerator.sum(axis=0) / denominator.sum(axis=0)  # fewer than 3 years
        for month in range(12):
            years = denominator[:, month] > 0
            if years.sum() >= 3:
                index[month] = np.median(numerator[years, month] / denominator[years, month])
        return index / index.mean()

    index = pooled_index(pooled_index(pooled_index(np.ones(12), 2 / 3), 0.4), 0.4)

    assert np.abs(index - season).max() < 0.03  # the estimator recovers the known season
    # The series shorter than a season has no ratio of its own: it gets the pooled index.
    assert profile_of(profiles, "new") == pytest.approx(index, abs=2e-3)
    assert profiles.groupby("unique_id").factor.mean().to_numpy() == pytest.approx(1.0)
    assert sorted(profiles.season_position.unique()) == list(range(12))


def test_a_season_and_a_bit_of_weekly_history_recovers_the_whole_season():
    """60 weeks: full 52-week windows centre on only 8 of them, so the season is read from
    windows cut at the ends (a closed-loop simulation starts with 52 to 104 weeks)."""
    rng = np.random.default_rng(3)
    t = np.arange(60)
    true = 1 + 0.5 * np.cos(2 * np.pi * (t + 13) / 52)  # peak at week 39 of the history
    series = {f"s{i}": rng.poisson(100 * true).astype(float) for i in range(20)}
    history = long_frame(series, "2021-01-04", "W-MON")
    groups = pd.DataFrame({"unique_id": list(series), "category": "parts"})
    factors = profile_of(seasonal_profiles(history, groups=groups, **WEEKLY), "s0")
    start = season_offset(pd.Timestamp("2021-01-04"), "W-MON")
    expected = 1 + 0.5 * np.cos(2 * np.pi * (np.arange(52) - start + 13) / 52)
    amplitude = np.sqrt(np.mean((factors - 1) ** 2)) / np.sqrt(np.mean((expected - 1) ** 2))
    assert 0.85 < amplitude < 1.1
    assert np.corrcoef(factors, expected)[0, 1] > 0.97
    peak = (int(np.argmax(factors)) - int(np.argmax(expected)) + 26) % 52 - 26
    assert abs(peak) <= 2


@pytest.mark.parametrize("weeks", [52, 56])
def test_one_season_of_weekly_history_recovers_the_season_at_its_turn(weeks):
    """The peak sits at the first and last weeks of the history, where a moving-average window
    is cut to its half: the whole season still comes out, peak in place (a network that joins
    with one year of sales gets a season from its first night)."""
    rng = np.random.default_rng(11)
    t = np.arange(weeks)
    true = 1 + 0.5 * np.cos(2 * np.pi * t / 52)  # peak at weeks 0 and 52 of the history
    series = {f"s{i}": rng.poisson(60 * true).astype(float) for i in range(20)}
    history = long_frame(series, "2023-01-02", "W-MON")
    groups = pd.DataFrame({"unique_id": list(series), "category": "parts"})
    factors = profile_of(seasonal_profiles(history, groups=groups, **WEEKLY), "s0")
    start = season_offset(pd.Timestamp("2023-01-02"), "W-MON")
    expected = 1 + 0.5 * np.cos(2 * np.pi * (np.arange(52) - start) / 52)
    assert np.sqrt(np.mean((factors - expected) ** 2)) < 0.06  # the season's own RMS is 0.35
    amplitude = np.sqrt(np.mean((factors - 1) ** 2)) / np.sqrt(np.mean((expected - 1) ** 2))
    assert 0.85 < amplitude < 1.1
    peak = (int(np.argmax(factors)) - int(np.argmax(expected)) + 26) % 52 - 26
    assert abs(peak) <= 2


def test_shrinkage_weight_at_zero_one_and_many_seasons():
    assert shrinkage_weight(0, k=4) == 0.0
    assert shrinkage_weight(1, k=4) == pytest.approx(1 / 5)
    assert shrinkage_weight(1000, k=4) > 0.99
    weights = shrinkage_weight(np.array([0.0, 1.0, 2.0, 8.0]), k=2)
    assert weights == pytest.approx([0.0, 1 / 3, 1 / 2, 0.8])


def test_a_series_moves_from_the_pooled_profile_to_its_own_as_it_gains_seasons():
    rng = np.random.default_rng(7)
    t = np.arange(96)
    group_season = 1 + 0.4 * np.sin(2 * np.pi * t / 12)
    own_season = 1 + 0.4 * np.sin(2 * np.pi * t / 12 + 2.0)  # peaks about four months apart
    members = {f"g{i}": rng.poisson(400 * group_season[:36]) for i in range(6)}
    own_truth = own_season[:12] / own_season[:12].mean()
    pooled_truth = group_season[:12] / group_season[:12].mean()
    correlations = []
    for months in (10, 24, 96):  # no ratio, one season of ratios, seven seasons
        odd = rng.poisson(400 * own_season[:months]).astype(float)
        history = long_frame({**members, "odd": odd}, "2020-01-01", "MS")
        groups = pd.DataFrame({"unique_id": [*members, "odd"], "category": "c"})
        profile = profile_of(seasonal_profiles(history, groups=groups, **MONTHLY), "odd")
        correlations.append(np.corrcoef(profile, own_truth)[0, 1])
        if months == 10:
            assert np.corrcoef(profile, pooled_truth)[0, 1] > 0.95
    assert correlations[0] < correlations[1] < correlations[2]
    assert correlations[2] > 0.9


def test_groups_pool_within_their_category():
    rng = np.random.default_rng(3)
    t = np.arange(130)
    seasons = {"a": 1 + 0.5 * np.sin(2 * np.pi * t / 52), "b": 1 - 0.5 * np.sin(2 * np.pi * t / 52)}
    series, rows = {}, []
    for category, season in seasons.items():
        for i in range(8):
            series[f"{category}{i}"] = rng.poisson(20 * season)
            rows.append((f"{category}{i}", category))
        series[f"{category}_new"] = rng.poisson(20 * season[:30])  # shorter than a season
        rows.append((f"{category}_new", category))
    history = long_frame(series, "2023-01-02", "W-MON")
    groups = pd.DataFrame(rows, columns=["unique_id", "category"])
    profiles = seasonal_profiles(history, groups=groups, **WEEKLY)
    start = season_offset(pd.Timestamp("2023-01-02"), "W-MON")
    for category, season in seasons.items():
        truth = np.empty(52)
        truth[(start + np.arange(52)) % 52] = season[:52]
        profile = profile_of(profiles, f"{category}_new")
        assert np.corrcoef(profile, truth)[0, 1] > 0.95
        assert np.abs(profile - truth).max() < 0.2


def test_intermittent_series_pool_their_demand_and_get_seasonal_methods():
    rng = np.random.default_rng(11)
    t = np.arange(104)
    season = 1 + 0.8 * np.sin(2 * np.pi * t / 52)
    series = {f"s{i:02d}": rng.poisson(0.4 * season) for i in range(60)}
    history = long_frame(series, "2023-01-02", "W-MON")
    groups = pd.DataFrame({"unique_id": list(series), "category": "slow"})
    profiles = seasonal_profiles(history, groups=groups, **WEEKLY)
    start = season_offset(pd.Timestamp("2023-01-02"), "W-MON")
    truth = np.empty(52)
    truth[(start + np.arange(52)) % 52] = season[:52]
    assert np.corrcoef(profile_of(profiles, "s00"), truth)[0, 1] > 0.9
    _, diagnostics = forecast_with_diagnostics(history, horizon=13, groups=groups, **WEEKLY)
    sparse = diagnostics[diagnostics.demand_class.isin(["intermittent", "lumpy"])]
    assert len(sparse) > 30
    assert sparse.model.str.endswith("+season").mean() > 0.9


def test_a_one_week_promotion_does_not_become_a_seasonal_peak():
    rng = np.random.default_rng(5)
    t = np.arange(104)
    season = 1 + 0.3 * np.sin(2 * np.pi * t / 52)
    series = {f"s{i}": rng.poisson(50 * season).astype(float) for i in range(6)}
    groups = pd.DataFrame({"unique_id": list(series), "category": "c"})
    plain = seasonal_profiles(long_frame(series, "2023-01-02", "W-MON"), groups=groups, **WEEKLY)
    series["s0"][60] *= 8  # a promotion in one week of one of six series
    promoted = seasonal_profiles(long_frame(series, "2023-01-02", "W-MON"), groups=groups, **WEEKLY)
    position = (season_offset(pd.Timestamp("2023-01-02"), "W-MON") + 60) % 52
    raise_at_promotion = profile_of(promoted, "s1")[position] - profile_of(plain, "s1")[position]
    assert abs(raise_at_promotion) < 0.05  # the week's pooled ratio rose by about 1.2


def test_censored_periods_are_left_out_of_the_profile():
    rng = np.random.default_rng(9)
    t = np.arange(104)
    season = 1 + 0.5 * np.sin(2 * np.pi * t / 52)
    series = {f"s{i}": rng.poisson(40 * season).astype(float) for i in range(5)}
    history = long_frame(series, "2023-01-02", "W-MON")
    # Stock-outs in high season at three of the five series: their sales cut to a third.
    peak = np.argsort(season[:52])[-10:]
    dates = pd.date_range("2023-01-02", periods=104, freq="W-MON")
    censored = history.ds.isin(dates[np.r_[peak, peak + 52]]) & history.unique_id.isin(
        ["s0", "s1", "s2"]
    )
    history.loc[censored, "y"] = np.floor(history.loc[censored, "y"] / 3)
    groups = pd.DataFrame({"unique_id": list(series), "category": "c"})
    as_sales = profile_of(seasonal_profiles(history, groups=groups, **WEEKLY), "s0")
    flagged = profile_of(
        seasonal_profiles(history.assign(censored=censored), groups=groups, **WEEKLY), "s0"
    )
    start = season_offset(pd.Timestamp("2023-01-02"), "W-MON")
    truth = np.empty(52)
    truth[(start + np.arange(52)) % 52] = season[:52]
    at_peak = (start + peak) % 52
    assert np.abs(flagged - truth)[at_peak].mean() < 0.1
    assert as_sales[at_peak].mean() < flagged[at_peak].mean() - 0.2


def seasonal_weekly_panel(seed: int, weeks: int) -> tuple[dict, pd.DataFrame]:
    """Three categories with their own yearly season; series of 2 to 60 units a week."""
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    series, rows = {}, []
    for category, phase in (("blades", 0.0), ("snow", np.pi), ("filters", 2.0)):
        season = 1 + 0.5 * np.sin(2 * np.pi * t / 52 + phase)
        for i in range(10):
            level = np.exp(rng.uniform(np.log(2), np.log(60)))
            y = rng.negative_binomial(5, 5 / (5 + level * season)).astype(float)
            series[f"{category}{i}"] = y
            rows.append((f"{category}{i}", category, f"r{i % 2}"))
    return series, pd.DataFrame(rows, columns=["unique_id", "category", "region"])


def test_pooled_forecast_is_clearly_more_accurate_on_a_held_out_season():
    series, groups = seasonal_weekly_panel(seed=2024, weeks=156)
    full = long_frame(series, "2022-01-03", "W-MON")
    cutoff = pd.Timestamp("2022-01-03") + pd.Timedelta(weeks=104)
    history, test = full[full.ds < cutoff], full[full.ds >= cutoff]
    scale = history.groupby("unique_id").y.apply(lambda y: y.diff().abs().mean())

    def mase(frame: pd.DataFrame) -> float:
        merged = test.merge(frame, on=["unique_id", "ds"])
        mae = (merged.yhat - merged.y).abs().groupby(merged.unique_id).mean()
        return float((mae / scale).mean())

    plain = forecast(history, horizon=52, **WEEKLY)
    pooled = forecast(history, horizon=52, groups=groups, **WEEKLY)
    assert mase(pooled) < 0.85 * mase(plain)
    assert pooled.model.str.endswith("+season").mean() > 0.5


def test_profiles_computed_once_give_the_same_forecast_chunk_by_chunk():
    series, groups = seasonal_weekly_panel(seed=1, weeks=104)
    history = long_frame(series, "2022-01-03", "W-MON")
    history = history[~((history.unique_id == "snow3") & (history.ds < "2022-09-01"))]
    whole = forecast(history, horizon=8, groups=groups, **WEEKLY)
    profiles = seasonal_profiles(history, groups=groups, **WEEKLY)
    ids = sorted(series)
    parts = [
        forecast_chunk(
            history[history.unique_id.isin(chunk)], horizon=8, profiles=profiles, **WEEKLY
        )[0]
        for chunk in (ids[::2], ids[1::2])
    ]
    chunked = pd.concat(parts).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        chunked, whole.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    )


def test_without_groups_or_seasonal_signal_the_forecast_is_unchanged():
    rng = np.random.default_rng(0)
    series = {f"s{i:02d}": rng.poisson(np.exp(rng.normal(1, 1)), 104) for i in range(30)}
    series["gappy"] = np.where(rng.random(104) < 0.1, np.nan, rng.poisson(6, 104))
    series["short"] = rng.poisson(3, 20)
    history = long_frame(series, "2023-01-02", "W-MON")
    today = forecast_with_diagnostics(history, horizon=13, **WEEKLY)
    explicit_none = forecast_with_diagnostics(history, horizon=13, groups=None, **WEEKLY)
    groups = pd.DataFrame({"unique_id": list(series), "category": ["a", "b", "c"] * 10 + ["a"] * 2})
    no_season = forecast_with_diagnostics(history, horizon=13, groups=groups, **WEEKLY)
    flat = pd.DataFrame(
        {"unique_id": np.repeat(list(series), 52), "season_position": np.tile(range(52), 32)}
    ).assign(factor=1.0)
    flat_profiles = forecast_with_diagnostics(history, horizon=13, profiles=flat, **WEEKLY)
    for other in (explicit_none, no_season, flat_profiles):
        pd.testing.assert_frame_equal(other[0], today[0])
        pd.testing.assert_frame_equal(other[1], today[1])


def test_pooled_forecasts_are_never_negative_nor_nan():
    series, groups = seasonal_weekly_panel(seed=8, weeks=104)
    rng = np.random.default_rng(8)
    series["blades_sparse"] = np.where(rng.random(104) < 0.15, rng.integers(1, 9, 104), 0)
    series["snow_zero"] = np.zeros(40)
    series["snow_one"] = np.array([4.0])
    series["snow_new"] = rng.poisson(30, 5).astype(float)  # "short": its mean times the profile
    series["filters_gaps"] = np.where(rng.random(104) < 0.4, np.nan, rng.poisson(9, 104))
    series["blades_dying"] = np.r_[rng.poisson(20, 60), np.zeros(44)]
    groups = pd.concat(
        [
            groups,
            pd.DataFrame(
                {
                    "unique_id": ["blades_sparse", "snow_zero", "snow_one", "snow_new"],
                    "category": ["blades", "snow", "snow", "snow"],
                    "region": ["r0", "r1", None, "r0"],
                }
            ),
        ]
    )  # filters_gaps and blades_dying are not in groups: network-level pooling only
    history = long_frame(series, "2022-01-03", "W-MON")
    frame, diagnostics = forecast_with_diagnostics(
        history, horizon=26, groups=groups, level=95, **WEEKLY
    )
    numbers = frame[["yhat", "yhat_lo", "yhat_hi"]]
    assert not numbers.isna().any().any()
    assert (numbers >= 0).all().all()
    assert (frame.yhat_lo <= frame.yhat).all() and (frame.yhat <= frame.yhat_hi).all()
    assert frame.groupby("unique_id").size().eq(26).all()
    assert diagnostics.set_index("unique_id").loc["snow_zero", "model"] == "zero"
    assert diagnostics.set_index("unique_id").loc["snow_new", "model"] == "recent_mean+season"


def test_season_positions_follow_the_calendar():
    assert season_offset(pd.Timestamp("2024-03-01"), "MS") % 12 == 2  # March
    assert season_offset(pd.Timestamp("1999-11-01"), "MS") % 12 == 10  # before the epoch
    assert season_offset(pd.Timestamp("2026-06-15"), "D") % 7 == 0  # a Monday
    assert season_offset(pd.Timestamp("2024-07-01"), "QS") % 4 == 2  # third quarter


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"groups": pd.DataFrame({"category": ["a"]})}, "groups is missing column unique_id"),
        (
            {"groups": pd.DataFrame({"unique_id": ["a", "a"], "category": ["x", "y"]})},
            "more than one row for unique_id 'a'",
        ),
        ({"groups": "category"}, "groups must be a pandas DataFrame"),
        (
            {"groups": pd.DataFrame({"unique_id": ["a"]}), "profiles": pd.DataFrame()},
            "not both",
        ),
        ({"profiles": pd.DataFrame({"unique_id": ["a"]})}, "profiles is missing column"),
        (
            {
                "profiles": pd.DataFrame(
                    {"unique_id": "a", "season_position": [0, 1], "factor": 1.0}
                )
            },
            "all 52 season positions",
        ),
        (
            {
                "profiles": pd.DataFrame(
                    {"unique_id": "a", "season_position": range(52), "factor": 0.0}
                )
            },
            "finite and positive",
        ),
    ],
)
def test_bad_groups_or_profiles_raise_a_one_line_value_error(kwargs, message):
    history = long_frame({"a": np.arange(60) % 7}, "2023-01-02", "W-MON")
    with pytest.raises(ValueError, match=message):
        forecast(history, horizon=4, **WEEKLY, **kwargs)


def test_profiles_need_a_season():
    history = long_frame({"a": np.arange(30) % 7}, "2000-01-01", "YS")
    groups = pd.DataFrame({"unique_id": ["a"], "category": ["x"]})
    with pytest.raises(ValueError, match="season_length >= 2"):
        forecast(history, horizon=2, season_length=1, freq="YS", groups=groups)


def test_weekly_smooth_series_with_a_profile_and_a_season_of_history_are_forecast_by_theta():
    # 30 seasonal series growing 30 % a year plus 10 intermittent ones, one category.
    rng = np.random.default_rng(17)
    t = np.arange(115)
    season = 1 + 0.5 * np.sin(2 * np.pi * t / 52)
    growth = np.exp(0.3 * t / 52)
    demand = {f"g{i:02d}": 40 * season * growth for i in range(30)}
    demand |= {f"i{i:02d}": 0.3 * season for i in range(10)}
    series = {uid: rng.poisson(mean[:112]).astype(float) for uid, mean in demand.items()}
    history = long_frame(series, "2023-01-02", "W-MON")
    # Five younger series (40 weeks to the same last week): less than a season of history.
    young = long_frame(
        {f"y{i}": rng.poisson(40 * season[72:112]).astype(float) for i in range(5)},
        "2024-05-20",
        "W-MON",
    )
    assert young.ds.max() == history.ds.max()
    history = pd.concat([history, young], ignore_index=True)
    groups = pd.DataFrame({"unique_id": history.unique_id.unique(), "category": "parts"})
    frame, diagnostics = forecast_with_diagnostics(history, horizon=3, groups=groups, **WEEKLY)
    models = diagnostics.set_index("unique_id").model
    assert (models[[f"g{i:02d}" for i in range(30)]] == "theta+season").all()
    assert not models[[f"i{i:02d}" for i in range(10)]].str.startswith("theta").any()
    # Less than a season: the backtested pool (Theta's slope would read a launch ramp).
    assert models[[f"y{i}" for i in range(5)]].str.endswith("+season").all()
    assert not models[[f"y{i}" for i in range(5)]].str.startswith("theta").any()
    # Without a profile, weekly series keep the backtest's choice, which never includes Theta.
    plain = forecast_with_diagnostics(history, horizon=3, **WEEKLY)[1]
    assert not plain.model.str.startswith("theta").any()
    # Against the true demand of the next 3 weeks: Theta's drift leaves a smaller low bias
    # than SES on the same deseasonalised series (the rule before it) would.
    profiles = seasonal_profiles(history, groups=groups, **WEEKLY)
    start = season_offset(pd.Timestamp("2023-01-02"), "W-MON")
    ses_sum = theta_sum = truth = 0.0
    for i in range(30):
        uid = f"g{i:02d}"
        factors = profile_of(profiles, uid)[(start + np.arange(115)) % 52]
        ses_sum += SeasonallyAdjusted(ETS(), factors).fit(series[uid]).predict(3).sum()
        theta_sum += frame[frame.unique_id == uid].yhat.sum()
        truth += demand[uid][112:].sum()
    assert ses_sum < theta_sum < 1.02 * truth
    # Half the slope makes up part of the lag, not all of it (here -4.4 % against -5.7 %).
    assert truth - theta_sum < 0.85 * (truth - ses_sum)
