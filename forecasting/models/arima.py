"""ARIMA through statsmodels: an optional, slower candidate for smooth series."""

from __future__ import annotations

import warnings

import numpy as np
from statsmodels.tsa.arima.model import ARIMA as StatsmodelsARIMA

from forecasting.models.base import Model


class ARIMA(Model):
    """Non-seasonal ARIMA(1,1,1) with drift, fitted by exact maximum likelihood.

    Parameters
    ----------
    order : tuple of int, default (1, 1, 1)
        ``(p, d, q)``.

    Notes
    -----
    :math:`(1 - \\phi B)(1 - B) y_t = c + (1 + \\theta B)\\varepsilon_t`. Missing periods are
    passed to statsmodels as NaN, which the Kalman filter skips. A fit costs tens of
    milliseconds, so the candidate is off by default (``arima=True`` turns it on).

    References
    ----------
    Box, G. E. P., Jenkins, G. M., Reinsel, G. C. & Ljung, G. M. (2015). *Time series analysis:
    forecasting and control*, 5th ed. Wiley.
    """

    name = "arima"
    min_obs = 12

    def __init__(self, order: tuple[int, int, int] = (1, 1, 1)) -> None:
        self.order = order

    def fit(self, y: np.ndarray) -> ARIMA:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = StatsmodelsARIMA(y, order=self.order, trend="t" if self.order[1] else "c")
            self.result_ = model.fit()
        return self

    def predict(self, h: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.result_.forecast(h), dtype=float)
