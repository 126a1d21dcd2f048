"""Rolling-origin backtest: where the origins go and how forecast errors are scored."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.models.ets import MAX_SEASON_LENGTH

#: Number of forecast origins per series.
N_ORIGINS = 3
#: Longest horizon scored in the backtest (a quarter of weekly data, two years of monthly).
MAX_BACKTEST_HORIZON = 26
#: Fewest periods before the first origin.
MIN_TRAIN = 8


@dataclass(frozen=True)
class BacktestPlan:
    """Origins (training lengths) and the horizon scored from each."""

    origins: list[int]
    horizon: int


def backtest_plan(n: int, horizon: int, season_length: int) -> BacktestPlan | None:
    """Place ``N_ORIGINS`` origins so their test windows tile the last periods of the series.

    Parameters
    ----------
    n : int
        Length of the series on its regular grid (missing periods included).
    horizon : int
        Requested forecast horizon.
    season_length : int
        Periods per season.

    Returns
    -------
    BacktestPlan or None
        None when the series is too short to leave ``MIN_TRAIN`` periods before the first
        origin.

    Notes
    -----
    The scored horizon is :math:`h_b = \\min(h, 26)`, shrunk when the series is short. Origins
    sit at :math:`n - 3h_b, n - 2h_b, n - h_b`, so the three test windows do not overlap and
    together cover the last :math:`3h_b` periods. The first origin is kept late enough to leave
    two full seasons (when seasonal ETS could use them), else one season (seasonal naive), if
    that still leaves a test window of at least half the wanted horizon; otherwise only
    ``MIN_TRAIN`` periods.
    """
    wanted = min(horizon, MAX_BACKTEST_HORIZON)
    train_options = []
    if 1 < season_length <= MAX_SEASON_LENGTH:
        train_options.append(2 * season_length)
    if season_length > 1:
        train_options.append(season_length)
    for min_train in train_options:
        h_b = min(wanted, (n - max(min_train, MIN_TRAIN)) // N_ORIGINS)
        if h_b >= max(1, (wanted + 1) // 2):
            return _plan(n, h_b)
    h_b = min(wanted, (n - MIN_TRAIN) // N_ORIGINS)
    return _plan(n, h_b) if h_b >= 1 else None


def _plan(n: int, h_b: int) -> BacktestPlan:
    return BacktestPlan(origins=[n - h_b * (N_ORIGINS - i) for i in range(N_ORIGINS)], horizon=h_b)


def actuals(y: np.ndarray, plan: BacktestPlan) -> np.ndarray:
    """Held-out values, shape ``(N_ORIGINS, plan.horizon)``, NaN where not observed."""
    return np.vstack([y[origin : origin + plan.horizon] for origin in plan.origins])


def mase_scale(y: np.ndarray, season_length: int) -> float:
    """In-sample mean absolute seasonal difference (lag 1 when too short or degenerate).

    Returns NaN when the scale is zero or undefined.

    Notes
    -----
    :math:`Q = \\frac{1}{n-m} \\sum_{t>m} |y_t - y_{t-m}|` over pairs where both are observed
    (Hyndman & Koehler 2006).
    """
    for lag in (season_length, 1):
        if lag < len(y):
            diffs = np.abs(y[lag:] - y[:-lag])
            diffs = diffs[~np.isnan(diffs)]
            if len(diffs) and diffs.mean() > 0:
                return float(diffs.mean())
    return float("nan")


@dataclass(frozen=True)
class Scores:
    """Backtest accuracy of one method on one series."""

    mae: float
    mse: float
    sigma: float
    mase: float
    wape: float
    bias: float


def score(
    forecasts: np.ndarray,
    held_out: np.ndarray,
    scale: float,
    *,
    censored: np.ndarray | None = None,
    demand_mean: np.ndarray | None = None,
    demand_variance: np.ndarray | None = None,
) -> Scores:
    """Score backtest forecasts against held-out actuals (NaN actuals are skipped).

    Parameters
    ----------
    forecasts, held_out : numpy.ndarray
        Same shape; ``held_out`` is NaN where not observed.
    scale : float
        MASE scale (:func:`mase_scale`).
    censored : numpy.ndarray of bool, optional
        True where the actual is a lower bound on demand (a stock-out period).
    demand_mean, demand_variance : numpy.ndarray, optional
        At censored periods, the demand model's :math:`E[D \\mid D \\ge y]` and
        :math:`\\operatorname{Var}(D \\mid D \\ge y)`
        (:func:`forecasting.censoring.unconstrain`); other entries are ignored.

    Returns
    -------
    Scores

    Notes
    -----
    With errors :math:`e = \\hat y - y` over every scored (origin, step) pair:
    MAE :math:`= \\overline{|e|}`, MSE :math:`= \\overline{e^2}`,
    :math:`\\sigma = \\sqrt{\\overline{e^2}}` (the error spread per period about zero, so bias
    widens it), MASE = MAE / scale, WAPE :math:`= \\sum |e| / \\sum |y|` and
    bias :math:`= \\bar e / \\bar y` (positive = over-forecast).

    *Censored actuals* (demand :math:`D \\ge y`). A forecast at or above the bound may be
    right, so only an under-forecast is an error: :math:`e = \\min(\\hat y - y, 0)` in MAE, MSE,
    MASE and WAPE (whose denominator keeps the bound :math:`y`), the errors that rank the
    candidates. A method is thus never rewarded for matching a lower bound, nor punished for
    forecasting above it.

    :math:`\\sigma` and bias must describe the error against demand, for safety stock and the
    bias alert; the one-sided error would count every over-forecast of a censored period as
    perfect and shrink both. With ``demand_mean`` :math:`m` and ``demand_variance`` :math:`v`
    given, a censored period enters them with its expected error under the demand model,
    :math:`E[\\hat y - D \\mid D \\ge y] = \\hat y - m` and
    :math:`E[(\\hat y - D)^2 \\mid D \\ge y] = (\\hat y - m)^2 + v`, and with :math:`m` in
    the denominator of bias. Without them, :math:`\\sigma` and bias use the one-sided errors.
    With no censored period every score is the plain one above.
    """
    mask = ~np.isnan(held_out)
    if not mask.any():
        nan = float("nan")
        return Scores(nan, nan, nan, nan, nan, nan)
    errors = forecasts[mask] - held_out[mask]
    actual = held_out[mask]
    spread_errors, spread_variance, spread_actual = errors, 0.0, actual
    if censored is not None and np.any(censored[mask]):
        bound = np.asarray(censored, dtype=bool)[mask]
        one_sided = np.where(bound, np.minimum(errors, 0.0), errors)
        if demand_mean is not None and demand_variance is not None:
            expected = np.where(bound, demand_mean[mask], actual)
            spread_errors = forecasts[mask] - expected
            spread_variance = np.where(bound, demand_variance[mask], 0.0)
            spread_actual = expected
        else:
            spread_errors = one_sided
        errors = one_sided
    mae = float(np.mean(np.abs(errors)))
    mse = float(np.mean(errors**2))
    actual_total = float(np.sum(np.abs(actual)))
    actual_mean = float(np.mean(spread_actual))
    return Scores(
        mae=mae,
        mse=mse,
        sigma=float(np.sqrt(np.mean(spread_errors**2 + spread_variance))),
        mase=mae / scale if scale > 0 else float("nan"),
        wape=float(np.sum(np.abs(errors))) / actual_total if actual_total > 0 else float("nan"),
        bias=float(np.mean(spread_errors)) / actual_mean if actual_mean != 0 else float("nan"),
    )
