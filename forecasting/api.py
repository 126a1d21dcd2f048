"""Public entry points: ``forecast``, ``forecast_with_diagnostics``, ``forecast_chunk``."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from forecasting._blas import single_threaded_blas
from forecasting.inputs import check_arguments, to_series
from forecasting.seasonality import seasonal_profiles, series_factors
from forecasting.select import SeriesForecast, forecast_series

FORECAST_COLUMNS = ["unique_id", "ds", "yhat", "yhat_lo", "yhat_hi", "model"]
DIAGNOSTIC_COLUMNS = [
    "unique_id",
    "model",
    "demand_class",
    "sigma",
    "mase",
    "wape",
    "bias",
    "n_obs",
    "adi",
    "cv2",
]
# Below this many series a process pool costs more than it saves.
MIN_SERIES_PER_JOB = 200


def forecast(
    history: pd.DataFrame,
    *,
    horizon: int,
    season_length: int,
    freq: str,
    level: float = 95,
    groups: pd.DataFrame | None = None,
    profiles: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Forecast every series in ``history`` with the method its own backtest favours.

    Parameters
    ----------
    history : pandas.DataFrame
        Long format: ``unique_id``, ``ds`` (dates on the ``freq`` grid), ``y``. Missing dates
        inside a series and NaN ``y`` are treated as not observed, never as zero. Optional
        boolean ``censored``: True where ``y`` is a lower bound on demand (the dealer was out
        of stock); such periods are unconstrained before fitting and, in the backtest, scored
        by their expected loss given the floor (:func:`forecasting.backtest.score`,
        :mod:`forecasting.censoring`). Without the column,
        or with no True in it, the result is the same as before it existed.
    horizon : int
        Periods to forecast, >= 1.
    season_length : int
        Periods per season: 52 weekly, 12 monthly, 4 quarterly, 1 for none.
    freq : str
        Pandas offset alias of the dates, e.g. ``"W-MON"``, ``"MS"``, ``"QS"``, ``"D"``.
    level : float, default 95
        Coverage of the prediction interval, in percent.
    groups : pandas.DataFrame, optional
        ``unique_id`` plus pooling key columns, coarsest first (e.g. ``category``,
        ``region``): seasonal profiles are estimated across the series of ``history``
        (:func:`forecasting.seasonal_profiles`); a series whose profile is applied is
        forecast by the level methods on its deseasonalised values, reseasonalised (model
        names ending in ``+season``; seasonal naive still competes). None (default), and no
        ``profiles``: no profiles at all, the result is exactly as without the argument.
    profiles : pandas.DataFrame, optional
        ``unique_id, season_position, factor`` from :func:`forecasting.seasonal_profiles`,
        computed once over the whole panel, to forecast a chunk of it with them; instead of
        ``groups``. A series without a profile, or with a flat one, is forecast as without.

    Returns
    -------
    pandas.DataFrame
        ``unique_id, ds, yhat, yhat_lo, yhat_hi, model``: ``horizon`` rows per series,
        starting one period after the series' last date; no NaN; never negative when the
        series has no negative values.

    Raises
    ------
    ValueError
        Missing columns, ``horizon < 1``, ``season_length < 1``, ``level`` outside (0, 100),
        an unknown ``freq``, dates off the grid, duplicate ``(unique_id, ds)`` rows, or a
        ``censored`` column that is not boolean or has missing values.

    See Also
    --------
    forecast_with_diagnostics : the same forecast plus per-series accuracy and error sigma.

    Examples
    --------
    >>> import pandas as pd
    >>> history = pd.DataFrame({
    ...     "unique_id": "A",
    ...     "ds": pd.date_range("2024-01-01", periods=30, freq="W-MON"),
    ...     "y": [3.0, 0.0, 2.0] * 10,
    ... })
    >>> forecast(history, horizon=4, season_length=52, freq="W-MON").shape
    (4, 6)
    """
    return forecast_with_diagnostics(
        history,
        horizon=horizon,
        season_length=season_length,
        freq=freq,
        level=level,
        groups=groups,
        profiles=profiles,
    )[0]


def forecast_with_diagnostics(
    history: pd.DataFrame,
    *,
    horizon: int,
    season_length: int,
    freq: str,
    level: float = 95,
    n_jobs: int = 1,
    arima: bool = False,
    groups: pd.DataFrame | None = None,
    profiles: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast every series and report how its chosen method did in the backtest.

    Parameters
    ----------
    history, horizon, season_length, freq, level, groups, profiles
        As in :func:`forecast`.
    n_jobs : int, default 1
        Worker processes; ``-1`` uses every core. Series are independent, so the result does
        not depend on ``n_jobs``.
    arima : bool, default False
        Add ARIMA(1,1,1) to the per-method candidates of smooth and erratic series (slower).
        Only series that still choose per method see it: weekly and longer seasons
        (``season_length > 24``) and series with a pooled profile. Non-seasonal and short-season
        smooth and erratic series use a fixed combination and ignore it.

    Returns
    -------
    forecast_frame : pandas.DataFrame
        As returned by :func:`forecast`.
    diagnostics : pandas.DataFrame
        One row per series: ``unique_id``; ``model`` chosen; ``demand_class``
        (smooth/erratic/intermittent/lumpy/zero/short); ``sigma``, the root mean squared
        backtest error per period in units of ``y`` (the spread safety stock needs, not the
        raw demand sd); ``mase``, ``wape`` and ``bias`` (mean(forecast - actual) /
        mean(actual), positive = over-forecast) of the chosen method in the backtest, NaN when
        there was none; ``n_obs`` observed periods; ``adi`` and ``cv2`` of the
        classification.

    Notes
    -----
    Each series is handled on its own (see :func:`forecasting.select.forecast_series` for
    the choice rule), so chunks of series can be forecast in separate processes or on
    separate workers and concatenated; :func:`forecast_chunk` is the entry point for that.
    """
    check_arguments(horizon, season_length, freq, level)
    if not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    series = to_series(history, freq, horizon)
    factors = _seasonal_factors(history, series, groups, profiles, season_length, freq, horizon)
    options = {
        "horizon": int(horizon),
        "season_length": int(season_length),
        "level": float(level),
        "arima": arima,
    }
    workers = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    workers = min(workers, max(1, len(series.values) // MIN_SERIES_PER_JOB))
    if workers > 1:
        chunks = np.array_split(np.arange(len(series.values)), workers * 4)
        # forkserver: forking a process that runs Prefect's threads risks deadlocks.
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            parts = pool.map(
                _forecast_many,
                [[series.values[i] for i in chunk] for chunk in chunks],
                [options] * len(chunks),
                [_pick(series.censored, chunk) for chunk in chunks],
                [_pick(factors, chunk) for chunk in chunks],
            )
            results = [item for part in parts for item in part]
    else:
        results = _forecast_many(series.values, options, series.censored, factors)
    return _frames(series.ids, results, series.last_position, series.grid, horizon)


def forecast_chunk(
    history: pd.DataFrame,
    *,
    horizon: int,
    season_length: int,
    freq: str,
    level: float = 95,
    arima: bool = False,
    groups: pd.DataFrame | None = None,
    profiles: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast one chunk of series in this process, for fan-out by a task runner.

    Same arguments and result as :func:`forecast_with_diagnostics` with ``n_jobs=1``. Split
    ``history`` by ``unique_id`` (never a series across chunks), call this on each chunk,
    then ``pandas.concat`` the forecast frames and the diagnostics frames. With pooled
    seasonality, compute ``profiles = seasonal_profiles(whole_history, groups=...)`` once and
    pass ``profiles=`` to every chunk: ``groups=`` here would pool only the chunk's series.
    """
    return forecast_with_diagnostics(
        history,
        horizon=horizon,
        season_length=season_length,
        freq=freq,
        level=level,
        n_jobs=1,
        arima=arima,
        groups=groups,
        profiles=profiles,
    )


def _forecast_many(
    values: list[np.ndarray],
    options: dict,
    censored: list[np.ndarray] | None = None,
    factors: list[np.ndarray | None] | None = None,
) -> list[SeriesForecast]:
    flags = censored if censored is not None else [None] * len(values)
    seasons = factors if factors is not None else [None] * len(values)
    with single_threaded_blas():
        return [
            forecast_series(y, censored=flag, factors=season, **options)
            for y, flag, season in zip(values, flags, seasons, strict=True)
        ]


def _seasonal_factors(history, series, groups, profiles, season_length, freq, horizon):
    """Per series seasonal factors (None: not seasonal), or None without groups/profiles."""
    if groups is None and profiles is None:
        return None
    if groups is not None and profiles is not None:
        raise ValueError("pass groups or profiles, not both (profiles are computed from groups)")
    if profiles is None:
        profiles = seasonal_profiles(history, groups=groups, season_length=season_length, freq=freq)
    elif season_length < 2:
        raise ValueError(f"seasonal profiles need season_length >= 2, got {season_length}")
    return series_factors(profiles, series, season_length, freq, horizon)


def _pick(censored: list[np.ndarray] | None, chunk: np.ndarray) -> list[np.ndarray] | None:
    return None if censored is None else [censored[i] for i in chunk]


def _frames(
    ids: list,
    results: list[SeriesForecast],
    last_position: np.ndarray,
    grid: pd.DatetimeIndex,
    horizon: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(results)
    if n == 0:
        return pd.DataFrame(columns=FORECAST_COLUMNS), pd.DataFrame(columns=DIAGNOSTIC_COLUMNS)
    future = (last_position[:, None] + np.arange(1, horizon + 1)[None, :]).ravel()
    forecasts = pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray(ids, dtype=object), horizon),
            "ds": grid[future],
            "yhat": np.concatenate([r.yhat for r in results]),
            "yhat_lo": np.concatenate([r.yhat_lo for r in results]),
            "yhat_hi": np.concatenate([r.yhat_hi for r in results]),
            "model": np.repeat([r.model for r in results], horizon),
        }
    )
    diagnostics = pd.DataFrame(
        {
            "unique_id": np.asarray(ids, dtype=object),
            "model": [r.model for r in results],
            "demand_class": [r.demand_class for r in results],
            "sigma": [r.sigma for r in results],
            "mase": [r.mase for r in results],
            "wape": [r.wape for r in results],
            "bias": [r.bias for r in results],
            "n_obs": [r.n_obs for r in results],
            "adi": [r.adi for r in results],
            "cv2": [r.cv2 for r in results],
        }
    )
    return forecasts, diagnostics
