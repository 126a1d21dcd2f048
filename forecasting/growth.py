"""Growth pooled over the series of one key (e.g. one SKU at every dealer).

A level model (SES, a moving average, the mean) fitted to a growing series lags it: a
13-week moving average of weekly demand growing 30 % a year sits about 7 weeks, or 4 %,
behind, and SES with a small alpha about as much. One dealer's year of weekly sales is too
noisy to tell a 0.3-a-year trend from noise, but a SKU's trend is mostly the product's, shared
by every dealer that sells it: pooled over its dealers it can be estimated.

:func:`pooled_growth` estimates one growth rate per key from the deseasonalised recent
history of the key's series; passed to :func:`forecasting.forecast` as a ``growth`` column of
``profiles=`` (:func:`with_growth`), it multiplies each series' seasonal factors by
:math:`e^{g (t - T)}` (``T`` the series' last period): the level models see a series with
the trend taken out, and the forecast carries it on.

Estimate, per key, over the last ``window`` periods of the panel (:func:`growth_window`):

1. Each series at least ``window / 2`` periods long, with observed, uncensored values
   (a stocked-out period says nothing about the level), divided by its seasonal factor and
   by its own mean over the window: :math:`r_{it}`, mean 1.
2. The key's pooled index :math:`R_t`, the mean of the :math:`r_{it}` observed at
   :math:`t`; at least half of the window's periods must have one.
3. Least squares :math:`R_t = a + b t`, each period weighted by its number of series; the
   growth per period is the slope relative to the fitted level at the weighted mean period
   (the mean index, :math:`\\bar R`), :math:`\\hat g = b / \\bar R` (the log-slope of an
   exponential trend, to first order), with standard error :math:`s_g = s_b / \\bar R`.
4. Shrunk, empirical-Bayes style, toward the typical key: with a prior
   :math:`g \\sim N(m, \\tau^2)` over the keys, a key's growth is
   :math:`m + w (\\hat g - m)` with :math:`w = \\tau^2 / (\\tau^2 + s_g^2)`. Robustly (a
   few keys being phased out must not set the prior): :math:`m` is the median estimate and
   :math:`\\tau^2 = (1.4826\\,\\mathrm{MAD}(\\hat g))^2 - \\mathrm{median}(s_g^2)`, the
   spread of the estimates less their noise (0 or less: every key gets :math:`m`). With
   fewer than ``MIN_KEYS_FOR_PRIOR`` keys the prior cannot be estimated and each key's own
   signal-to-noise weight shrinks it toward 0: :math:`\\hat g^3 / (\\hat g^2 + s_g^2)`.
   Then clipped to ``MAX_GROWTH_PER_SEASON / season_length`` either way.

Series too young to estimate from (a launch) still get their key's growth when older
series of the key give one; otherwise none, so a launch's ramp is left to the level models.
A decline (a SKU being phased out) is estimated like any trend, as negative growth up to the
cap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.inputs import SeriesSet, to_series
from forecasting.seasonality import GROWTH_COLUMN, check_profiles, series_factors

#: Periods of history the growth is estimated from, at least (weekly: one year).
MIN_WINDOW = 12
#: Largest growth either way, in log units per season (weekly data: 0.01 a week).
MAX_GROWTH_PER_SEASON = 0.5
#: Keys needed to estimate the spread of true growth across keys (the shrinkage's prior).
MIN_KEYS_FOR_PRIOR = 5
#: Median absolute deviation to standard deviation, for a normal distribution.
MAD_TO_SD = 1.4826


def growth_window(season_length: int) -> int:
    """Periods the growth is estimated over: one season, at least ``MIN_WINDOW``."""
    return max(int(season_length), MIN_WINDOW)


def pooled_growth(
    history: pd.DataFrame,
    *,
    keys: pd.DataFrame,
    season_length: int,
    freq: str,
    profiles: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Growth per period of every series, pooled over the series of its key.

    Parameters
    ----------
    history : pandas.DataFrame
        Long format ``unique_id, ds, y`` (optional ``censored``), as for
        :func:`forecasting.forecast`.
    keys : pandas.DataFrame
        ``unique_id`` and one key column (e.g. ``sku``): series with the same key share a
        growth rate. A series without a row, or with a missing key, gets no growth.
    season_length, freq
        As for :func:`forecasting.forecast`.
    profiles : pandas.DataFrame, optional
        :func:`forecasting.seasonal_profiles` of ``history``: the series are deseasonalised
        with them before the growth is estimated (the window is one season, but a profile's
        peak near either end still tilts a straight line).

    Returns
    -------
    pandas.DataFrame
        ``unique_id, growth``: one row per series of ``history``, the growth in log units per
        period (0 where there is none to apply).
    """
    key_columns = [column for column in keys.columns if column != "unique_id"]
    if "unique_id" not in keys.columns or len(key_columns) != 1:
        raise ValueError("keys must have columns unique_id and exactly one key column")
    if keys["unique_id"].duplicated().any():
        duplicate = keys.loc[keys["unique_id"].duplicated(), "unique_id"].iloc[0]
        raise ValueError(f"keys has more than one row for unique_id {duplicate!r}")
    series = to_series(history, freq, horizon=1)
    if not series.ids:
        return pd.DataFrame({"unique_id": pd.Series(dtype=object), GROWTH_COLUMN: 0.0})
    factors = (
        series_factors(profiles, series, season_length, freq, 1)
        if profiles is not None
        else [None] * len(series.ids)
    )
    key_of = keys.set_index("unique_id")[key_columns[0]]
    key = key_of.reindex(pd.Index(series.ids, dtype=object)).to_numpy(dtype=object)
    window = growth_window(season_length)
    index = _normalised_values(series, factors, window)
    cap = MAX_GROWTH_PER_SEASON / max(int(season_length), 1)
    growth = np.zeros(len(series.ids))
    known = pd.notna(key)
    groups = [np.flatnonzero(known & (key == value)) for value in pd.unique(key[known])]
    estimates = np.array([_key_slope(index[members], window) for members in groups]).reshape(-1, 2)
    rates = _shrink(estimates[:, 0], estimates[:, 1])
    for members, rate in zip(groups, rates, strict=True):
        growth[members] = float(np.clip(rate, -cap, cap))
    return pd.DataFrame({"unique_id": pd.Series(series.ids, dtype=object), GROWTH_COLUMN: growth})


def with_growth(profiles: pd.DataFrame, growth: pd.DataFrame) -> pd.DataFrame:
    """``profiles`` with each series' ``growth`` column added (0 where ``growth`` has none)."""
    check_profiles(profiles, int(profiles["season_position"].max()) + 1 if len(profiles) else 1)
    rates = growth.set_index("unique_id")[GROWTH_COLUMN]
    out = profiles.drop(columns=[GROWTH_COLUMN], errors="ignore").copy()
    out[GROWTH_COLUMN] = out["unique_id"].map(rates).fillna(0.0).to_numpy(dtype=float)
    return out


def _normalised_values(series: SeriesSet, factors: list, window: int) -> np.ndarray:
    """(series x window) deseasonalised values over their own window mean, NaN where none."""
    end = int(series.last_position.max()) + 1
    start = end - window
    out = np.full((len(series.ids), window), np.nan)
    for i, (y, last) in enumerate(zip(series.values, series.last_position, strict=True)):
        if len(y) < window // 2:
            continue  # too young: a launch ramp is not growth
        values = np.asarray(y, dtype=float)
        if series.censored is not None:
            values = np.where(series.censored[i], np.nan, values)
        if factors[i] is not None:
            values = values / factors[i][: len(values)]
        position = last - len(values) + 1 + np.arange(len(values))
        keep = position >= start
        row = np.full(window, np.nan)
        row[position[keep] - start] = values[keep]
        observed = ~np.isnan(row)
        if observed.sum() < window // 2:
            continue
        mean = row[observed].mean()
        if mean > 0:
            out[i] = row / mean
    return out


def _key_slope(index: np.ndarray, window: int) -> tuple[float, float]:
    """Relative slope of the key's pooled index and its standard error (NaN: no estimate)."""
    count = np.sum(~np.isnan(index), axis=0)
    covered = count > 0
    if covered.sum() < max(window // 2, 3):
        return np.nan, np.nan
    pooled = np.nansum(index[:, covered], axis=0) / count[covered]
    weight = count[covered].astype(float)
    t = np.flatnonzero(covered).astype(float)
    t_mean, r_mean = np.average(t, weights=weight), np.average(pooled, weights=weight)
    if r_mean <= 0:
        return np.nan, np.nan
    sxx = float(np.sum(weight * (t - t_mean) ** 2))
    slope = float(np.sum(weight * (t - t_mean) * (pooled - r_mean)) / sxx)
    residual = pooled - r_mean - slope * (t - t_mean)
    variance = float(np.sum(weight * residual**2)) / (len(t) - 2)  # weights: relative only
    return slope / r_mean, float(np.sqrt(variance / sxx)) / r_mean


def _shrink(rates: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Each key's slope shrunk toward 0 (0 where there is none); see the module docstring."""
    known = np.isfinite(rates) & np.isfinite(errors)
    out = np.zeros(len(rates))
    rate, error = rates[known], errors[known]
    if len(rate) >= MIN_KEYS_FOR_PRIOR:
        centre = float(np.median(rate))
        spread = MAD_TO_SD * float(np.median(np.abs(rate - centre)))
        tau2 = max(spread**2 - float(np.median(error**2)), 0.0)
        weight = tau2 / (tau2 + error**2) if tau2 > 0 else np.zeros(len(rate))
        out[known] = centre + weight * (rate - centre)
    else:
        weight = rate**2 / np.maximum(rate**2 + error**2, np.finfo(float).tiny)
        out[known] = rate * weight
    return out
