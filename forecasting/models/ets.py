"""Exponential smoothing (ETS / Holt-Winters) through statsmodels."""

from __future__ import annotations

import warnings

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from forecasting.models.base import Model, fill_missing
from forecasting.models.gradient import forward_difference_gradient

# Seasonal ETS estimates one initial state per period of the season: at m = 52 a fit takes
# ~0.3 s and is poorly identified from two years of weekly data, so longer seasons are left to
# seasonal naive and Theta's decomposition.
MAX_SEASON_LENGTH = 24
# Fits pass L-BFGS-B the forward-difference gradient it would compute itself (same result).
FAST_GRADIENT = True


def seasonal_form(y: np.ndarray, season_length: int) -> str | None:
    """Seasonal component ETS may use on ``y``: ``"mul"``, ``"add"`` or ``None``.

    Seasonality needs ``1 < season_length <= MAX_SEASON_LENGTH`` and at least two full seasons;
    the multiplicative form is used only for strictly positive data (statsmodels rejects zeros
    in multiplicative models).
    """
    if not 1 < season_length <= MAX_SEASON_LENGTH or len(y) < 2 * season_length:
        return None
    return "mul" if np.nanmin(y) > 0 else "add"


class ETS(Model):
    """Exponential smoothing state-space forecaster (statsmodels ``ExponentialSmoothing``).

    Parameters
    ----------
    season_length : int, default 1
        Periods per season, used only when ``seasonal`` is not None.
    trend : bool, default False
        Add an additive damped trend (Holt's damped method).
    seasonal : {None, "add", "mul"}
        Seasonal component (see :func:`seasonal_form`).

    Notes
    -----
    With level :math:`\\ell`, trend :math:`b`, damping :math:`\\phi` and additive season
    :math:`s` (Hyndman et al. 2008, class ETS(A,Ad,A))

    .. math::
        \\hat y_{t+k|t} = \\ell_t + (\\phi + \\dots + \\phi^k) b_t + s_{t+k-m(\\lfloor (k-1)/m
        \\rfloor + 1)},

    with the smoothing constants and initial states estimated by least squares
    (``initialization_method="estimated"``). Missing periods are linearly interpolated first.
    The multiplicative-season form multiplies by :math:`s` instead.

    :meth:`backtest` estimates the parameters once, on the data before the first origin, and
    re-runs the recursions with those parameters held fixed to each later origin: no parameter
    sees held-out data and only one optimisation is paid per backtest.

    References
    ----------
    Hyndman, R. J., Koehler, A. B., Ord, J. K. & Snyder, R. D. (2008). *Forecasting with
    exponential smoothing: the state space approach*. Springer.
    Gardner, E. S. & McKenzie, E. (1985). Forecasting trends in time series.
    *Management Science*, 31(10), 1237-1246.
    """

    min_obs = 8

    def __init__(
        self, season_length: int = 1, *, trend: bool = False, seasonal: str | None = None
    ) -> None:
        self.season_length = season_length
        self.trend = trend
        self.seasonal = seasonal
        if seasonal is not None:
            # Two seasons of calendar, at least one season's worth observed (gaps interpolated).
            self.min_length = 2 * season_length
            self.min_obs = max(self.min_obs, season_length)
            self.name = "holt_winters"
        else:
            self.name = "ets_damped" if trend else "ses"

    def _model(self, y: np.ndarray, **initial: object) -> ExponentialSmoothing:
        return ExponentialSmoothing(
            y,
            trend="add" if self.trend else None,
            damped_trend=self.trend,
            seasonal=self.seasonal,
            seasonal_periods=self.season_length if self.seasonal else None,
            initialization_method="known" if initial else "estimated",
            **initial,
        )

    def fit(self, y: np.ndarray) -> ETS:
        self.y_ = fill_missing(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # use_brute=False skips a grid search for starting values: ~30% faster, same fit
            # to within 0.1% of the squared error on weekly demand.
            model = self._model(self.y_)
            # The same gradient scipy would estimate, without its overhead: same fit, bit
            # for bit (forecasting/models/gradient.py).
            jac = {"jac": forward_difference_gradient(model)} if FAST_GRADIENT else {}
            self.result_ = model.fit(use_brute=False, minimize_kwargs=jac)
        return self

    def predict(self, h: int) -> np.ndarray:
        if self.seasonal is None:
            return level_trend_forecast(self.y_, self.result_.params, self.trend, h)
        with warnings.catch_warnings():
            # statsmodels recomputes the information criteria here: log(0) on a perfect fit.
            warnings.simplefilter("ignore")
            return np.asarray(self.result_.forecast(h), dtype=float)

    def backtest(self, y: np.ndarray, origins: list[int], h: int) -> np.ndarray:
        # Fill each training slice on its own: interpolating the whole series first would let
        # a censored week just before an origin borrow values from after it.
        self.fit(y[: origins[0]])
        params = self.result_.params
        rows = [self.predict(h)]
        if self.seasonal is None:
            # The first window's parameters run on as statsmodels' refit with fixed parameters
            # would run them (which keeps the initial trend as b0 * phi / phi).
            fixed = dict(params)
            if self.trend:
                phi = params["damping_trend"]
                fixed["initial_trend"] = params["initial_trend"] * phi / phi if phi > 0 else 0
            for origin in origins[1:]:
                rows.append(level_trend_forecast(fill_missing(y[:origin]), fixed, self.trend, h))
            return np.vstack(rows)
        initial = {
            "initial_level": params["initial_level"],
            "initial_seasonal": params["initial_seasons"],
        }
        smoothing = {
            "smoothing_level": params["smoothing_level"],
            "smoothing_seasonal": params["smoothing_seasonal"],
        }
        if self.trend:
            initial["initial_trend"] = params["initial_trend"]
            smoothing["smoothing_trend"] = params["smoothing_trend"]
            smoothing["damping_trend"] = params["damping_trend"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for origin in origins[1:]:
                model = self._model(fill_missing(y[:origin]), **initial)
                result = model.fit(optimized=False, **smoothing)
                rows.append(np.asarray(result.forecast(h), dtype=float))
        return np.vstack(rows)


def level_trend_forecast(y: np.ndarray, params: dict, trend: bool, h: int) -> np.ndarray:
    """``HoltWintersResults.forecast(h)`` of a non-seasonal model, without statsmodels' overhead.

    Parameters
    ----------
    y : numpy.ndarray
        The series the model was fitted to (no NaN).
    params : dict
        ``HoltWintersResults.params`` (smoothing constants, damping, initial states).
    trend : bool
        Additive damped trend (else simple exponential smoothing).
    h : int
        Steps ahead.

    Notes
    -----
    statsmodels' ``forecast`` re-runs the whole recursion and builds pandas tables around it,
    about 1 ms per call and the larger part of a weekly dealer forecast's time. This is the same
    recursion (``ExponentialSmoothing._predict``, statsmodels 0.14) operation for operation, so
    the forecasts are equal to the last bit; ``tests/forecasting/test_models.py`` checks that
    against statsmodels on every path the models use.
    """
    alpha = params["smoothing_level"]
    alphac = 1 - alpha
    y_alpha = alpha * y
    level = params["initial_level"]
    if not trend:
        for value in y_alpha:
            level = value + alphac * level
        return np.full(h, level, dtype=float)
    beta, phi = params["smoothing_trend"], params["damping_trend"]
    betac = 1 - beta
    slope = params["initial_trend"]
    for value in y_alpha:
        previous = level
        level = value + alphac * (previous + slope * phi)
        slope = beta * (level - previous) + betac * (slope * phi)
    steps = np.cumsum(np.repeat(phi, h + 1) ** np.arange(1, h + 2))[:h]
    return level + slope * steps


class DampedSeasonalETS(Model):
    """Damped-trend ETS with the season :func:`seasonal_form` allows on the data it is given.

    Parameters
    ----------
    season_length : int
        Periods per season.

    Notes
    -----
    Each fit (and each backtest, from its first training window) builds
    ``ETS(season_length, trend=True, seasonal=seasonal_form(y, season_length))``: Holt-Winters
    with a damped trend (class ETS(A,Ad,M) or ETS(A,Ad,A)) once two full seasons, at least one
    season's worth observed, are available, Holt's damped trend (ETS(A,Ad,N)) before that. A
    series whose first backtest window is shorter than two seasons is thus backtested without
    the season and forecast with it. In :meth:`backtest` the season is additive when the data
    before the last origin (through which the recursions run) are not strictly positive.
    """

    name = "ets_damped_seasonal"
    min_obs = 8

    def __init__(self, season_length: int) -> None:
        self.season_length = season_length

    def _ets(self, y: np.ndarray, form: str | None) -> ETS:
        seasonal = ETS(self.season_length, trend=True, seasonal=form)
        return seasonal if seasonal.fits_on(y) else ETS(trend=True)

    def fit(self, y: np.ndarray) -> DampedSeasonalETS:
        self.model_ = self._ets(y, seasonal_form(y, self.season_length)).fit(y)
        return self

    def predict(self, h: int) -> np.ndarray:
        return self.model_.predict(h)

    def backtest(self, y: np.ndarray, origins: list[int], h: int) -> np.ndarray:
        first = y[: origins[0]]
        form = seasonal_form(first, self.season_length)
        if form is not None:
            # The recursions run on to the last origin with the first window's model: a zero
            # in between rules out the multiplicative season for all of them.
            form = seasonal_form(y[: origins[-1]], self.season_length)
        return self._ets(first, form).backtest(y, origins, h)
