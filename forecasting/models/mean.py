"""Historic mean, recent mean and moving average: the fallbacks."""

from __future__ import annotations

import numpy as np

from forecasting.models.base import Model, observed

#: Fewest values `RecentMean` averages (all of them when the series has fewer).
MIN_RECENT = 3


class Mean(Model):
    """Mean of every observed value: :math:`\\hat y_{T+k} = \\bar y`.

    Used as the documented fallback for series too short to backtest.
    """

    name = "mean"

    def fit(self, y: np.ndarray) -> Mean:
        self.mean_ = float(np.mean(observed(y)))
        return self

    def predict(self, h: int) -> np.ndarray:
        return np.full(h, self.mean_)


class MovingAverage(Model):
    """Mean of the last ``window`` observed values (missing periods skipped).

    Parameters
    ----------
    window : int
        Number of observed values averaged.
    """

    name = "moving_average"

    def __init__(self, window: int) -> None:
        self.window = window

    def fit(self, y: np.ndarray) -> MovingAverage:
        self.mean_ = float(np.mean(observed(y)[-self.window :]))
        return self

    def predict(self, h: int) -> np.ndarray:
        return np.full(h, self.mean_)


def default_window(season_length: int) -> int:
    """Moving-average window: 13 periods for weekly data (a quarter), else one season, >= 3."""
    if season_length >= 52:
        return 13
    return max(3, season_length)


class RecentMean(Mean):
    """Mean of the latest half of the observed values (at least ``MIN_RECENT``, at most all).

    The level of a series too short to backtest. A young series is often a launch still
    ramping up, or a listing whose first weeks sold less while the shelf filled: the mean of
    every value lags such a level by about half the history, the latest half by a quarter.
    A steady series pays only the larger sampling error of fewer values.
    """

    name = "recent_mean"

    def fit(self, y: np.ndarray) -> RecentMean:
        values = observed(y)
        count = min(len(values), max(MIN_RECENT, int(np.ceil(len(values) / 2))))
        self.mean_ = float(np.mean(values[-count:]))
        return self
