"""The interface every forecasting method implements.

A method is a small object with ``fit(y) -> self`` and ``predict(h) -> mean array``, in the
spirit of statsforecast's models. ``y`` is a 1-d float array on a regular time grid whose NaN
entries are periods that were not observed (gaps, stockout-censored weeks); each method decides
how to skip them, none of them reads NaN as zero demand.
"""

from __future__ import annotations

import numpy as np


class Model:
    """Base class: one forecasting method with a ``fit`` / ``predict`` interface.

    Subclasses set ``name`` and implement ``fit`` and ``predict``. ``min_obs`` is the number of
    observed (non-NaN) points the method needs before it can be fitted; ``min_length`` (when
    set) the number of periods on the grid, missing ones included, which can be larger: seasonal
    methods need whole seasons of calendar but fill a censored week from its neighbours.
    """

    name: str = "model"
    min_obs: int = 1
    min_length: int | None = None

    def fits_on(self, y: np.ndarray) -> bool:
        """Whether ``y`` is long enough, and observed often enough, to fit the method."""
        n_obs = int(np.sum(~np.isnan(y)))
        length = self.min_obs if self.min_length is None else self.min_length
        return n_obs >= self.min_obs and len(y) >= length

    def fit(self, y: np.ndarray) -> Model:
        """Fit the method to ``y`` (NaN = not observed) and return ``self``."""
        raise NotImplementedError

    def predict(self, h: int) -> np.ndarray:
        """Return the point forecast (mean) for the next ``h`` periods."""
        raise NotImplementedError

    def forecast(self, y: np.ndarray, h: int) -> np.ndarray:
        """Fit to ``y`` and predict ``h`` periods in one call."""
        return self.fit(y).predict(h)

    def backtest(self, y: np.ndarray, origins: list[int], h: int) -> np.ndarray:
        """Forecasts made at each rolling origin.

        Parameters
        ----------
        y : numpy.ndarray
            Whole series (NaN = not observed).
        origins : list of int
            Training lengths: the forecast at origin ``o`` uses ``y[:o]`` only.
        h : int
            Steps forecast from each origin.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(origins), h)``.
        """
        return np.vstack([self.fit(y[:origin]).predict(h) for origin in origins])


def observed(y: np.ndarray) -> np.ndarray:
    """The non-missing values of ``y`` in time order."""
    return y[~np.isnan(y)]


def fill_missing(y: np.ndarray) -> np.ndarray:
    """Fill NaN by linear interpolation between observed neighbours, flat at the ends.

    Methods that need a complete grid (statsmodels smoothers, seasonal naive) use this so that a
    censored week borrows its neighbours' level instead of reading as zero demand.
    """
    missing = np.isnan(y)
    if not missing.any():
        return y
    positions = np.arange(len(y))
    filled = y.copy()
    filled[missing] = np.interp(positions[missing], positions[~missing], y[~missing])
    return filled
