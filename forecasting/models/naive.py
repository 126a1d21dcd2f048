"""Naive and seasonal naive forecasts."""

from __future__ import annotations

import numpy as np

from forecasting.models.base import Model, fill_missing, observed


class Naive(Model):
    """Last observed value repeated: :math:`\\hat y_{T+k} = y_T`.

    Missing periods are skipped, so the forecast is the last *observed* value.
    """

    name = "naive"

    def fit(self, y: np.ndarray) -> Naive:
        self.last_ = float(observed(y)[-1])
        return self

    def predict(self, h: int) -> np.ndarray:
        return np.full(h, self.last_)


class SeasonalNaive(Model):
    """Value of the same period one season earlier.

    Parameters
    ----------
    season_length : int
        Periods per season (52 weekly, 12 monthly, 4 quarterly).

    Notes
    -----
    :math:`\\hat y_{T+k} = y_{T+k-m\\lceil k/m \\rceil}`. Missing periods are first filled by
    linear interpolation between observed neighbours (Hyndman & Athanasopoulos, ch. 5.2).

    References
    ----------
    Hyndman, R. J. & Athanasopoulos, G. (2021). *Forecasting: principles and practice*, 3rd ed.,
    OTexts, section 5.2.
    """

    name = "seasonal_naive"

    def __init__(self, season_length: int) -> None:
        self.season_length = season_length
        # One season of calendar, at least half of it observed: a stock-out week in the
        # reference season is interpolated, and must not rule the method out.
        self.min_length = season_length
        self.min_obs = max(1, season_length // 2)

    def fit(self, y: np.ndarray) -> SeasonalNaive:
        if len(y) < self.season_length:
            raise ValueError("seasonal naive needs at least one full season")
        self.last_season_ = fill_missing(y)[-self.season_length :]
        return self

    def predict(self, h: int) -> np.ndarray:
        return self.last_season_[np.arange(h) % self.season_length].astype(float)


class Drift(Model):
    """Random walk with drift: the last observed value plus the average change per period.

    Notes
    -----
    With the first and last observed values :math:`y_a`, :math:`y_b` at positions
    :math:`a < b`, :math:`\\hat y_{T+k} = y_b + (T - b + k)\\,(y_b - y_a) / (b - a)`: the line
    through the first and last observations, extrapolated (Hyndman & Athanasopoulos, ch. 5.2).
    Missing periods in between do not matter; missing periods at the end are stepped over.

    References
    ----------
    Hyndman, R. J. & Athanasopoulos, G. (2021). *Forecasting: principles and practice*, 3rd ed.,
    OTexts, section 5.2.
    """

    name = "drift"
    min_obs = 2

    def fit(self, y: np.ndarray) -> Drift:
        positions = np.flatnonzero(~np.isnan(y))
        first, last = positions[0], positions[-1]
        if first == last:
            raise ValueError("drift needs two observations")
        self.last_ = float(y[last])
        self.slope_ = (float(y[last]) - float(y[first])) / (last - first)
        self.steps_ahead_ = len(y) - 1 - last  # periods between the last observation and T
        return self

    def predict(self, h: int) -> np.ndarray:
        return self.last_ + self.slope_ * (self.steps_ahead_ + np.arange(1, h + 1))
