"""The gradient L-BFGS-B estimates for statsmodels' Holt-Winters fit, without scipy's overhead.

`ExponentialSmoothing.fit` minimises the sum of squared errors with scipy's L-BFGS-B and no
gradient, so scipy estimates one by forward differences (`scipy.optimize._numdiff.
approx_derivative`, step ``epsilon=1e-8`` moved inside the bounds). For a two- to five-
parameter model on 104 weeks, that generic machinery costs about 40 times the objective
evaluations it makes, and was a third of the nightly forecast stage.

`forward_difference_gradient` returns a ``jac`` for ``fit(minimize_kwargs={"jac": ...})`` that
makes the very same evaluations (same points, same steps, same arithmetic), so the optimiser
takes the same path and the fitted parameters are bit-for-bit those of the default fit
(`tests/forecasting/test_ets_gradient.py` checks that on generated dealer series). One
difference: scipy counts its difference evaluations against L-BFGS-B's ``maxfun`` (15,000)
and this gradient's are not counted; a weekly fit uses a few hundred.

Written against scipy 1.17 and statsmodels 0.15 (pinned in requirements.lock); re-check the
test when either is upgraded.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize._numdiff import _adjust_scheme_to_bounds
from statsmodels.tsa.holtwinters.model import SMOOTHERS, ExponentialSmoothing, opt_wrapper

#: L-BFGS-B's default ``eps``: the absolute forward-difference step.
STEP = 1e-8
#: The step scipy falls back to where ``x + STEP == x`` (2-point: sqrt of float64's epsilon).
_RELATIVE_STEP = np.finfo(np.float64).eps ** 0.5


def forward_difference_gradient(model: ExponentialSmoothing) -> Callable:
    """``jac(x, hw_args)`` for `model.fit(minimize_kwargs={"jac": jac})` (see module doc)."""
    objective = opt_wrapper(SMOOTHERS[(model.seasonal, model.trend)])
    # The bounds statsmodels hands L-BFGS-B: [0, 1] for the (transformed) smoothing
    # parameters, the model's own for the rest; the estimated ones are picked per call.
    # An open bound (None) is infinite, as scipy reads it.
    bounds = [(0.0, 1.0)] * 3 + model._construct_bounds()[3:]
    bounds = np.array([(-np.inf if lo is None else lo, np.inf if hi is None else hi)
                       for lo, hi in bounds], dtype=float)  # fmt: skip

    def jac(x: np.ndarray, hw_args) -> np.ndarray:
        x0 = np.asarray(x, dtype=float)
        lower, upper = bounds[hw_args.xi.astype(bool)].T
        f0 = np.asarray(objective(np.copy(x0), hw_args)).item()
        sign = (x0 >= 0).astype(float) * 2 - 1
        h = np.where((x0 + STEP) - x0 == 0, _RELATIVE_STEP * sign * np.maximum(1.0, np.abs(x0)),
                     STEP)  # fmt: skip
        h, _ = _adjust_scheme_to_bounds(x0, h, 1, "1-sided", lower, upper)
        gradient = np.empty(x0.size)
        for i in range(x0.size):
            x1 = np.copy(x0)
            x1[i] = x0[i] + h[i]
            f1 = np.asarray(objective(x1, hw_args)).item()
            gradient[i] = (f1 - f0) / ((x0[i] + h[i]) - x0[i])
        return gradient

    return jac
