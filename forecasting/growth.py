"""Growth pooled over the series of one key (e.g. one SKU at every dealer).

A level model (SES, a moving average, the mean) fitted to a growing series lags it: a
13-week moving average of weekly demand growing 30 % a year sits about 7 weeks, or 4 %,
behind, and SES with a small alpha about as much. One dealer's weekly sales are too noisy to
tell a 0.3-a-year trend from noise, but a SKU's trend is mostly the product's, shared by
every dealer that sells it: pooled over its dealers it can be estimated.

:func:`pooled_growth` estimates one growth rate per key; passed to
:func:`forecasting.forecast` as a ``growth`` column of ``profiles=`` (:func:`with_growth`),
it multiplies each series' seasonal factors by :math:`e^{g (t - T)}` (``T`` the series' last
period): the level models see the series with the trend taken out, and the forecast carries
it on.

Estimate, per key, year on year, so that the season cancels whatever the profiles make of it
(a straight line through a deseasonalised year was tried first: a profile that misses a
SKU's own peak by a little tilts the line by tens of percent a year):

1. Each series' sales over the last ``window`` periods of the panel (:func:`growth_window`,
   a quarter of a season) and over the same periods one season earlier, counting only the
   periods observed and uncensored in both (a stocked-out period says nothing about the
   level). A series with fewer than half the window's periods paired is left out.
2. :math:`\\hat g = \\log(\\sum \\text{recent} / \\sum \\text{earlier}) / m`, the log growth per
   period of the key's pooled sales (:math:`m` the season length), with standard error
   :math:`s_g = \\sqrt{\\phi (1/\\sum \\text{recent} + 1/\\sum \\text{earlier})} / m`: the
   Poisson variance of a log ratio of counts, times the overdispersion :math:`\\phi \\ge 1`
   of the series' own log ratios about the pooled one (with at least three series).
3. Shrunk, empirical-Bayes style, toward the typical key: with a prior
   :math:`g \\sim N(\\mu, \\tau^2)` over the keys, a key's growth is
   :math:`\\mu + w (\\hat g - \\mu)` with :math:`w = \\tau^2 / (\\tau^2 + s_g^2)`. Robustly (a
   few keys being phased out must not set the prior): :math:`\\mu` is the median estimate and
   :math:`\\tau^2 = (1.4826\\,\\mathrm{MAD}(\\hat g))^2 - \\mathrm{median}(s_g^2)`, the
   spread of the estimates less their noise (0 or less: every key gets :math:`\\mu`). With
   fewer than ``MIN_KEYS_FOR_PRIOR`` keys the prior cannot be estimated and each key's own
   signal-to-noise weight shrinks it toward 0: :math:`\\hat g^3 / (\\hat g^2 + s_g^2)`.
   Then clipped to ``MAX_GROWTH_PER_SEASON / season_length`` either way.

A key needs a season and a quarter of history; a series too young to be paired (a launch)
takes its key's growth if older series of the key give one, otherwise none, so a launch's
ramp is left to the level models. A SKU being phased out shows as negative growth, up to the
cap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.inputs import SeriesSet, to_series
from forecasting.seasonality import GROWTH_COLUMN, check_profiles

#: Largest growth either way, in log units per season (weekly data: 0.01 a week).
MAX_GROWTH_PER_SEASON = 0.5
#: Keys needed to estimate the spread of true growth across keys (the shrinkage's prior).
MIN_KEYS_FOR_PRIOR = 5
#: Median absolute deviation to standard deviation, for a normal distribution.
MAD_TO_SD = 1.4826


def growth_window(season_length: int) -> int:
    """Periods compared with the same periods a season earlier: a quarter of a season."""
    return max(round(season_length / 4), 1)


def pooled_growth(
    history: pd.DataFrame,
    *,
    keys: pd.DataFrame,
    season_length: int,
    freq: str,
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
    key_of = keys.set_index("unique_id")[key_columns[0]]
    key = key_of.reindex(pd.Index(series.ids, dtype=object)).to_numpy(dtype=object)
    window = growth_window(season_length)
    recent, before, paired = _year_on_year(series, window, int(season_length))
    cap = MAX_GROWTH_PER_SEASON / max(int(season_length), 1)
    growth = np.zeros(len(series.ids))
    known = pd.notna(key)
    groups = [np.flatnonzero(known & (key == value)) for value in pd.unique(key[known])]
    estimates = np.array(
        [_key_rate(recent[m], before[m], paired[m], window, int(season_length)) for m in groups]
    ).reshape(-1, 2)
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


def _year_on_year(series: SeriesSet, window: int, lag: int):
    """Per series: sales of its last ``window`` periods and of the same periods ``lag`` earlier,
    over the periods observed and uncensored in both, and how many such pairs there are."""
    end = int(series.last_position.max()) + 1
    recent = np.zeros(len(series.ids))
    before = np.zeros(len(series.ids))
    paired = np.zeros(len(series.ids), dtype=int)
    for i, (y, last) in enumerate(zip(series.values, series.last_position, strict=True)):
        values = np.asarray(y, dtype=float)
        if series.censored is not None:
            values = np.where(series.censored[i], np.nan, values)
        first = last - len(values) + 1
        now = np.arange(end - window, end) - first
        then = now - lag
        inside = (then >= 0) & (now < len(values))
        if not inside.any():
            continue
        a, b = values[now[inside]], values[then[inside]]
        both = ~np.isnan(a) & ~np.isnan(b)
        recent[i], before[i], paired[i] = a[both].sum(), b[both].sum(), int(both.sum())
    return recent, before, paired


def _key_rate(
    recent: np.ndarray, before: np.ndarray, paired: np.ndarray, window: int, lag: int
) -> tuple[float, float]:
    """Year-on-year log growth per period of the key's pooled sales and its standard error."""
    use = paired >= (window + 1) // 2
    total_now, total_then = float(recent[use].sum()), float(before[use].sum())
    if total_now <= 0 or total_then <= 0:
        return np.nan, np.nan
    rate = np.log(total_now / total_then)
    poisson = 1.0 / total_now + 1.0 / total_then
    # Overdispersion from the series' own log ratios about the pooled one (at least Poisson).
    each = use & (recent > 0) & (before > 0)
    dispersion = 1.0
    if each.sum() >= 3:
        ratios = np.log(recent[each] / before[each])
        variances = 1.0 / recent[each] + 1.0 / before[each]
        dispersion = max(1.0, float(np.mean((ratios - rate) ** 2 / variances)))
    return rate / lag, float(np.sqrt(dispersion * poisson)) / lag


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
