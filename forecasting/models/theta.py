"""The Theta method: through statsmodels ``ThetaModel``, and in its SES-with-drift form."""

from __future__ import annotations

import warnings

import numpy as np
from statsmodels.tsa.forecasting.theta import ThetaModel

from forecasting.models.base import Model, fill_missing
from forecasting.models.ets import ETS


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


class ThetaSES(Model):
    """The Theta method in its SES-with-drift form, fitted without statsmodels' ThetaModel.

    Notes
    -----
    Hyndman & Billah (2003) showed the standard Theta method is simple exponential smoothing
    with a drift of half the least-squares slope :math:`b_0` of the series on time:

    .. math:: \\hat y_{T+k} = \\ell_T + \\tfrac{1}{2} b_0 \\left(k - 1 + \\tfrac{1 -
              (1-\\alpha)^T}{\\alpha}\\right),

    :math:`\\ell_T` the smoothed level and :math:`\\alpha` its weight. The term
    :math:`(1 - (1-\\alpha)^T) / \\alpha` (``T`` when :math:`\\alpha \\to 0`) corrects for the
    smoothed level trailing a trending series: it lifts the forecast's start toward the
    series' recent level (by half the slope, like the steps ahead, so partly). Here
    :math:`\\ell_T` and :math:`\\alpha` are the project's SES fit
    (:class:`~forecasting.models.ets.ETS`, initial level estimated; statsmodels' Theta starts
    the level at the first value), which costs one smoothing fit instead of :class:`Theta`'s
    three statsmodels calls, and the backtest keeps the first window's :math:`\\alpha` as
    ETS's does, refitting only the slope at each origin. No season of its own: it runs on a
    deseasonalised series (:class:`~forecasting.seasonality.SeasonallyAdjusted`). Missing
    periods are linearly interpolated first.

    References
    ----------
    Hyndman, R. J. & Billah, B. (2003). Unmasking the Theta method. *International Journal of
    Forecasting*, 19(2), 287-290.
    """

    name = "theta"
    min_obs = 8

    def fit(self, y: np.ndarray) -> ThetaSES:
        self.ses_ = ETS().fit(y)
        self.alpha_ = float(self.ses_.result_.params["smoothing_level"])
        self.slope_ = least_squares_slope(self.ses_.y_)  # the series as SES filled it
        self.n_ = len(y)
        return self

    def predict(self, h: int) -> np.ndarray:
        return self.ses_.predict(h) + 0.5 * self.slope_ * drift_steps(self.alpha_, self.n_, h)

    def backtest(self, y: np.ndarray, origins: list[int], h: int) -> np.ndarray:
        ses = ETS()
        level = ses.backtest(y, origins, h)  # first window's alpha, run on to each origin
        alpha = float(ses.result_.params["smoothing_level"])
        drift = [
            0.5 * least_squares_slope(fill_missing(y[:origin])) * drift_steps(alpha, origin, h)
            for origin in origins
        ]
        return level + np.vstack(drift)


def least_squares_slope(y: np.ndarray) -> float:
    """Slope of the least-squares line of ``y`` on ``0, 1, ..., n-1``."""
    t = np.arange(len(y), dtype=float)
    t -= t.mean()
    return float(np.dot(t, y - y.mean()) / np.dot(t, t)) if len(y) > 1 else 0.0


def drift_steps(alpha: float, n: int, h: int) -> np.ndarray:
    """``k - 1 + (1 - (1 - alpha)^n) / alpha`` for ``k = 1..h`` (``k - 1 + n`` at alpha 0)."""
    lag = float(n) if alpha <= 1e-12 else -np.expm1(n * np.log1p(-min(alpha, 1.0 - 1e-12))) / alpha
    return np.arange(h, dtype=float) + lag
