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
        self.min_obs = season_length

    def fit(self, y: np.ndarray) -> SeasonalNaive:
        if len(y) < self.season_length:
            raise ValueError("seasonal naive needs at least one full season")
        self.last_season_ = fill_missing(y)[-self.season_length :]
        return self

    def predict(self, h: int) -> np.ndarray:
        return self.last_season_[np.arange(h) % self.season_length].astype(float)
