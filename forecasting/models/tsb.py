"""Teunter-Syntetos-Babai (TSB) method: demand probability updated every period."""

from __future__ import annotations

import numpy as np

from forecasting.models.base import Model, observed


class TSB(Model):
    """TSB: smooth the probability of a demand every period and the size when demand occurs.

    Parameters
    ----------
    alpha : float, default 0.1
        Smoothing constant for the demand size.
    beta : float, default 0.1
        Smoothing constant for the demand probability.

    Notes
    -----
    Missing (NaN) periods are dropped first. Starting from :math:`\\hat p_0` = share of observed
    periods with demand and :math:`\\hat z_0` = mean non-zero size, for every observed period

    .. math:: \\hat p_t = \\hat p_{t-1} + \\beta (\\mathbb 1[y_t > 0] - \\hat p_{t-1}),

    and only when :math:`y_t > 0`,
    :math:`\\hat z_t = \\hat z_{t-1} + \\alpha (y_t - \\hat z_{t-1})`.
    The forecast is :math:`\\hat y = \\hat p_T \\hat z_T`. Unlike Croston, the probability decays
    through runs of zeros, so an item that stops selling is forecast towards zero
    (obsolescence).

    References
    ----------
    Teunter, R. H., Syntetos, A. A. & Babai, M. Z. (2011). Intermittent demand: linking
    forecasting to inventory obsolescence. *European Journal of Operational Research*, 214(3),
    606-615.
    """

    name = "tsb"

    def __init__(self, alpha: float = 0.1, beta: float = 0.1) -> None:
        self.alpha = alpha
        self.beta = beta

    def fit(self, y: np.ndarray) -> TSB:
        values = observed(y)
        has_demand = values != 0
        if not has_demand.any():
            self.rate_ = 0.0
            return self
        probability = float(has_demand.mean())
        size = float(values[has_demand].mean())
        for value, occurred in zip(values.tolist(), has_demand.tolist(), strict=True):
            probability += self.beta * (float(occurred) - probability)
            if occurred:
                size += self.alpha * (value - size)
        self.rate_ = probability * size
        return self

    def predict(self, h: int) -> np.ndarray:
        return np.full(h, self.rate_)
