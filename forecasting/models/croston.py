"""Croston's method and the Syntetos-Boylan approximation (SBA) for intermittent demand."""

from __future__ import annotations

import numpy as np

from forecasting.models.base import Model, observed


def exponential_smoothing_level(x: np.ndarray, alpha: float) -> float:
    """Final level of simple exponential smoothing started at the first value.

    :math:`\\ell_1 = x_1`, :math:`\\ell_j = \\ell_{j-1} + \\alpha (x_j - \\ell_{j-1})`.
    """
    level = float(x[0])
    for value in x[1:]:
        level += alpha * (float(value) - level)
    return level


class Croston(Model):
    """Croston's method: smooth demand sizes and inter-demand intervals separately.

    Parameters
    ----------
    alpha : float, default 0.1
        Smoothing constant for both sizes and intervals (Syntetos & Boylan suggest 0.05-0.2).

    Notes
    -----
    Missing (NaN) periods are dropped first: an unobserved week is neither a demand nor a zero.
    With non-zero demands :math:`z_1, \\dots, z_J` at positions :math:`t_1 < \\dots < t_J`
    (0-based) the intervals are :math:`q_1 = t_1 + 1` and :math:`q_j = t_j - t_{j-1}`. Both are
    smoothed with simple exponential smoothing started at their first value,

    .. math:: \\hat z_j = \\hat z_{j-1} + \\alpha (z_j - \\hat z_{j-1}), \\quad
              \\hat q_j = \\hat q_{j-1} + \\alpha (q_j - \\hat q_{j-1}),

    and the demand rate per period is :math:`\\hat y = \\hat z_J / \\hat q_J` for every future
    period. A series with no demand forecasts zero.

    References
    ----------
    Croston, J. D. (1972). Forecasting and stock control for intermittent demands.
    *Operational Research Quarterly*, 23(3), 289-303.
    """

    name = "croston"

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha

    def _rate(self, y: np.ndarray) -> float:
        values = observed(y)
        positions = np.flatnonzero(values != 0)
        if len(positions) == 0:
            return 0.0
        sizes = values[positions]
        intervals = np.diff(positions, prepend=-1)
        size = exponential_smoothing_level(sizes, self.alpha)
        interval = exponential_smoothing_level(intervals, self.alpha)
        return size / interval

    def fit(self, y: np.ndarray) -> Croston:
        self.rate_ = self._rate(y)
        return self

    def predict(self, h: int) -> np.ndarray:
        return np.full(h, self.rate_)


class SBA(Croston):
    """Syntetos-Boylan approximation: Croston's rate times :math:`1 - \\alpha/2`.

    Notes
    -----
    Croston's estimator is biased upwards because :math:`E[z/q] \\neq E[z]/E[q]`; Syntetos and
    Boylan (2005) remove most of the bias with :math:`\\hat y = (1 - \\alpha/2)\\,\\hat z/\\hat q`.

    References
    ----------
    Syntetos, A. A. & Boylan, J. E. (2005). The accuracy of intermittent demand estimates.
    *International Journal of Forecasting*, 21(2), 303-314.
    """

    name = "sba"

    def fit(self, y: np.ndarray) -> SBA:
        self.rate_ = (1.0 - self.alpha / 2.0) * self._rate(y)
        return self
