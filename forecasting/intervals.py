"""Prediction intervals from backtest error spread."""

from __future__ import annotations

import numpy as np
from scipy import stats


def interval(
    mean: np.ndarray,
    sigma: float,
    *,
    level: float,
    backtest_horizon: int,
    count_data: bool,
    non_negative: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of a central ``level`` % prediction interval.

    Parameters
    ----------
    mean : numpy.ndarray
        Point forecasts for steps :math:`k = 1..h`.
    sigma : float
        Root mean squared backtest error per period (averaged over steps
        :math:`1..h_b`).
    level : float
        Nominal coverage in percent, e.g. 95.
    backtest_horizon : int
        :math:`h_b`, the number of steps ``sigma`` was averaged over.
    count_data : bool
        Every observed value is a non-negative integer: use a count distribution.
    non_negative : bool
        Every observed value is >= 0: clip the lower bound at 0.

    Returns
    -------
    lo, hi : numpy.ndarray

    Notes
    -----
    The error variance at step :math:`k` is :math:`v_k = \\sigma^2 \\max(1, k / h_b)`: flat
    over the steps the backtest scored, growing like a random walk beyond them.

    *Count data* (weekly units sold): the predictive distribution is negative binomial with
    mean :math:`\\mu_k = \\hat y_k` and variance :math:`\\max(v_k, \\mu_k)`, i.e. Poisson when
    the errors are no wider than Poisson noise. Normal intervals are poor here: they are
    symmetric and continuous while intermittent demand is skewed and mostly zero. The bounds
    are quantiles :math:`lo = F^{-1}(a/2)`; because :math:`P(X < lo)` can be well below
    :math:`a/2` at zero, the unused lower-tail mass moves to the upper tail,
    :math:`hi = F^{-1}(1 - a + P(X < lo))`, which keeps coverage at least :math:`1 - a`
    without a needlessly wide upper bound.

    *Other data*: normal, :math:`\\hat y_k \\pm z_{1-a/2} \\sqrt{v_k}`, lower bound clipped at 0
    for non-negative series.

    Both bounds are finally widened if needed to contain the point forecast.
    """
    alpha = 1.0 - level / 100.0
    steps = np.arange(1, len(mean) + 1)
    variance = sigma**2 * np.maximum(1.0, steps / max(backtest_horizon, 1))
    if count_data:
        lo, hi = _count_bounds(np.maximum(mean, 0.0), variance, alpha)
    else:
        half_width = stats.norm.ppf(1.0 - alpha / 2.0) * np.sqrt(variance)
        lo, hi = mean - half_width, mean + half_width
    if non_negative:
        lo = np.maximum(lo, 0.0)
    return np.minimum(lo, mean), np.maximum(hi, mean)


def _count_bounds(
    mean: np.ndarray, variance: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    lo = np.zeros_like(mean)
    hi = np.zeros_like(mean)
    positive = mean > 0
    overdispersed = positive & (variance > mean * (1.0 + 1e-9))
    poisson = positive & ~overdispersed
    if overdispersed.any():
        mu, var = mean[overdispersed], variance[overdispersed]
        # Negative binomial with mean mu and variance var: p = mu / var, n = mu^2 / (var - mu).
        lo[overdispersed], hi[overdispersed] = _shifted_tail_bounds(
            stats.nbinom, alpha, mu**2 / (var - mu), mu / var
        )
    if poisson.any():
        lo[poisson], hi[poisson] = _shifted_tail_bounds(stats.poisson, alpha, mean[poisson])
    return lo, hi


def _shifted_tail_bounds(distribution, alpha: float, *params: np.ndarray):
    lower = distribution.ppf(alpha / 2.0, *params)
    unused = distribution.cdf(lower - 1.0, *params)
    upper = distribution.ppf(np.minimum(1.0 - alpha + unused, 1.0 - 1e-12), *params)
    return lower, upper
