"""Demand classification by the Syntetos-Boylan scheme (ADI / CV^2)."""

from __future__ import annotations

import numpy as np

#: Average inter-demand interval above which demand is intermittent (Syntetos et al. 2005).
ADI_CUTOFF = 1.32
#: Squared coefficient of variation of non-zero sizes above which demand is erratic/lumpy.
CV2_CUTOFF = 0.49
#: Fewer observed periods than this and the series is classed "short".
MIN_OBS = 6

DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "zero", "short")


def classify_demand(y: np.ndarray) -> tuple[str, float, float]:
    """Classify a demand series as smooth, erratic, intermittent, lumpy, zero or short.

    Parameters
    ----------
    y : array_like
        Demand per period in time order; NaN marks a period that was not observed (gap or
        stockout-censored) and is left out of both statistics.

    Returns
    -------
    demand_class : str
        ``"zero"`` when every observed value is 0; ``"short"`` when fewer than ``MIN_OBS``
        periods are observed (and not all zero); otherwise the Syntetos-Boylan quadrant.
    adi : float
        Average inter-demand interval, observed periods per period with non-zero demand
        (``inf`` when there is none, NaN when nothing is observed).
    cv2 : float
        Squared coefficient of variation of the non-zero demand sizes (population variance;
        0 for a single demand, NaN when there is none).

    Notes
    -----
    With :math:`n` observed periods of which :math:`n_+` have non-zero demand :math:`z_j`,

    .. math:: \\mathrm{ADI} = n / n_+, \\qquad
              \\mathrm{CV}^2 = \\operatorname{Var}(z) / \\bar z^{\\,2}.

    ===============  =================  ==================
    class            ADI                CV^2
    ===============  =================  ==================
    smooth           < 1.32             < 0.49
    erratic          < 1.32             >= 0.49
    intermittent     >= 1.32            < 0.49
    lumpy            >= 1.32            >= 0.49
    ===============  =================  ==================

    References
    ----------
    Syntetos, A. A., Boylan, J. E. & Croston, J. D. (2005). On the categorization of demand
    patterns. *Journal of the Operational Research Society*, 56(5), 495-503.
    """
    values = np.asarray(y, dtype=float)
    values = values[~np.isnan(values)]
    sizes = values[values != 0]
    n_obs = len(values)
    if n_obs == 0:
        return "short", float("nan"), float("nan")
    adi = n_obs / len(sizes) if len(sizes) else float("inf")
    cv2 = float(np.var(sizes) / np.mean(sizes) ** 2) if len(sizes) else float("nan")
    if len(sizes) == 0:
        return "zero", adi, cv2
    if n_obs < MIN_OBS:
        return "short", adi, cv2
    intermittent = adi >= ADI_CUTOFF
    variable = cv2 >= CV2_CUTOFF
    if intermittent:
        return ("lumpy" if variable else "intermittent"), adi, cv2
    return ("erratic" if variable else "smooth"), adi, cv2
