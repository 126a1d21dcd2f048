"""The gradient handed to statsmodels' optimiser leaves every Holt-Winters fit bit-for-bit as is.

`forecasting.models.gradient.forward_difference_gradient` makes the evaluations scipy's own
forward-difference estimate would make. If it differed in a single step, bound or rounding,
L-BFGS-B would take another path and the fitted parameters would differ in their last bits.
The reference is statsmodels' default fit, with no gradient given.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from forecasting.models.gradient import forward_difference_gradient

FORMS = {
    "ses": ({}, 104),
    "damped": ({"trend": "add", "damped_trend": True}, 104),
    "damped seasonal add": (
        {"trend": "add", "damped_trend": True, "seasonal": "add", "seasonal_periods": 12},
        48,
    ),
    "seasonal mul": ({"seasonal": "mul", "seasonal_periods": 4}, 24),
}


def demand(rng: np.random.Generator, n: int) -> np.ndarray:
    """Weekly-demand-like series: a level, a season, a trend, noise, some zeros."""
    level = rng.uniform(0.5, 300)
    t = np.arange(n)
    season = 1 + rng.uniform(0, 0.5) * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 6))
    trend = np.linspace(0, rng.normal(0, level * 0.4), n)
    return np.round(np.maximum(0, level * season + trend + rng.normal(0, level * 0.3, n)))


def fit(y: np.ndarray, form: dict, *, fast: bool):
    model = ExponentialSmoothing(y, initialization_method="estimated", **form)
    kwargs = {"jac": forward_difference_gradient(model)} if fast else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(use_brute=False, minimize_kwargs=kwargs)


@pytest.mark.parametrize("name", list(FORMS))
def test_fit_with_the_gradient_equals_the_default_fit_to_the_last_bit(name):
    form, n = FORMS[name]
    rng = np.random.default_rng(7)
    for _ in range(12):
        y = demand(rng, n)
        if form.get("seasonal") == "mul":
            y = y + 1  # multiplicative forms need positive data
        default, fast = fit(y, form, fast=False), fit(y, form, fast=True)
        assert np.array_equal(
            np.asarray(default.params_formatted["param"], dtype=float),
            np.asarray(fast.params_formatted["param"], dtype=float),
            equal_nan=True,
        )
        assert default.sse == fast.sse
        assert np.array_equal(default.forecast(8), fast.forecast(8))


def test_the_gradient_is_a_forward_difference_of_the_objective():
    """Checked independently of scipy: against a central difference of the same objective."""
    from statsmodels.tsa.holtwinters.model import SMOOTHERS, opt_wrapper

    y = demand(np.random.default_rng(3), 104)
    model = ExponentialSmoothing(
        y, trend="add", damped_trend=True, initialization_method="estimated"
    )
    seen = {}

    def spy(x, hw_args):
        seen.setdefault("args", (np.copy(x), hw_args))
        return forward_difference_gradient(model)(x, hw_args)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(use_brute=False, minimize_kwargs={"jac": spy})
    x, hw_args = seen["args"]
    objective = opt_wrapper(SMOOTHERS[(model.seasonal, model.trend)])
    gradient = forward_difference_gradient(model)(x, hw_args)
    central = []
    for i in range(x.size):
        step = 1e-5 * max(1.0, abs(x[i]))
        up, down = np.copy(x), np.copy(x)
        up[i] += step
        down[i] -= step
        central.append((objective(up, hw_args) - objective(down, hw_args)) / (2 * step))
    scale = np.abs(central) + objective(np.copy(x), hw_args) * 1e-6
    assert np.all(np.abs(gradient - np.asarray(central)) <= 1e-3 * scale + 1e-6)
