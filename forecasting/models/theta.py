"""The Theta method through statsmodels ``ThetaModel``."""

from __future__ import annotations

import warnings

import numpy as np
from statsmodels.tsa.forecasting.theta import ThetaModel

from forecasting.models.base import Model, fill_missing


class Theta(Model):
    """Standard Theta method (Assimakopoulos & Nikolopoulos 2000) via statsmodels.

    Parameters
    ----------
    season_length : int, default 1
        Periods per season. The series is deseasonalised with a classical decomposition
        (multiplicative for positive data) when ``season_length > 1``, at least two full
        seasons are available and statsmodels' seasonality test finds seasonality.

    Notes
    -----
    The forecast is simple exponential smoothing of the (deseasonalised) series plus half the
    slope :math:`b_0` of a linear trend fitted by least squares (Hyndman & Billah 2003):

    .. math:: \\hat y_{T+k} = \\tilde y_{T+k} + \\tfrac{1}{2} b_0 \\left(k - 1 + \\tfrac{1}{\\alpha}
              - \\tfrac{(1-\\alpha)^T}{\\alpha}\\right),

    then reseasonalised. Missing periods are linearly interpolated first.

    References
    ----------
    Assimakopoulos, V. & Nikolopoulos, K. (2000). The theta model: a decomposition approach to
    forecasting. *International Journal of Forecasting*, 16(4), 521-530.
    Hyndman, R. J. & Billah, B. (2003). Unmasking the Theta method. *International Journal of
    Forecasting*, 19(2), 287-290.
    """

    name = "theta"
    min_obs = 8

    def __init__(self, season_length: int = 1) -> None:
        self.season_length = season_length

    def fit(self, y: np.ndarray) -> Theta:
        filled = fill_missing(y)
        # statsmodels' trend regression mistakes a constant series for its own constant column
        # (add_trend skips the intercept) and returns a bogus slope: 5, 5, ..., 5 forecast ~10.
        self.constant_ = float(filled[0]) if np.ptp(filled) == 0 else None
        if self.constant_ is not None:
            return self
        seasonal = self.season_length > 1 and len(filled) >= 2 * self.season_length
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.result_ = ThetaModel(
                filled, period=self.season_length if seasonal else None, deseasonalize=seasonal
            ).fit()
        return self

    def predict(self, h: int) -> np.ndarray:
        if self.constant_ is not None:
            return np.full(h, self.constant_)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.result_.forecast(h), dtype=float)
