"""Interval bounds against scipy distributions."""

import numpy as np
import pytest
from scipy import stats

from forecasting.intervals import interval


def test_normal_interval_for_non_count_data():
    mean = np.array([10.5, 10.5, 10.5, 10.5])
    lo, hi = interval(mean, 2.0, level=90, backtest_horizon=2, count_data=False, non_negative=False)
    z = stats.norm.ppf(0.95)
    growth = np.sqrt([1, 1, 1.5, 2])  # flat over the backtest horizon, then like a random walk
    assert lo == pytest.approx(mean - z * 2 * growth)
    assert hi == pytest.approx(mean + z * 2 * growth)


def test_normal_lower_bound_is_clipped_for_non_negative_data():
    lo, hi = interval(
        np.array([1.5]), 5.0, level=95, backtest_horizon=1, count_data=False, non_negative=True
    )
    assert lo[0] == 0.0
    assert hi[0] == pytest.approx(1.5 + stats.norm.ppf(0.975) * 5)


@pytest.mark.parametrize(("mean", "sigma"), [(5.0, 1.0), (5.0, 4.0), (0.3, 0.5), (40.0, 12.0)])
def test_count_interval_covers_the_level_and_its_upper_bound_is_tight(mean, sigma):
    variance = max(sigma**2, mean)
    if variance > mean:
        dist = stats.nbinom(mean**2 / (variance - mean), mean / variance)
    else:
        dist = stats.poisson(mean)
    lo, hi = interval(
        np.array([mean]), sigma, level=95, backtest_horizon=1, count_data=True, non_negative=True
    )
    lo, hi = lo[0], hi[0]
    assert lo == dist.ppf(0.025)
    coverage = dist.cdf(hi) - dist.cdf(lo - 1)
    assert coverage >= 0.95
    assert dist.cdf(hi - 1) - dist.cdf(lo - 1) < 0.95  # one unit lower would undercover
    assert lo <= mean <= hi


def test_count_interval_for_zero_mean_is_zero_and_always_contains_the_mean():
    lo, hi = interval(
        np.array([0.0, 0.01]),
        0.1,
        level=95,
        backtest_horizon=1,
        count_data=True,
        non_negative=True,
    )
    assert lo.tolist() == [0.0, 0.0]
    assert hi[0] == 0.0 and hi[1] >= 0.01
