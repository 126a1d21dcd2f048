"""True daily customer demand per dealer x SKU, independent of any inventory policy.

The process is a gamma-Poisson (negative binomial) count per dealer x SKU x day whose mean is

    mu[d, s, t] = base_rate[d, s] * weekly[d, dow(t)] * yearly[s, doy(t)] * exp(g[d, s] * years(t))
                  * lifecycle[s, t] * promo[d, s, t]

with ``yearly = 1 + amplitude * cos(2 pi (doy - peak_doy) / 365.25)`` (per category), a launch
ramp for new SKUs, an exponential decline then discontinuation for dying SKUs, and a few
multi-day promotional uplifts. The count is ``Poisson(Gamma(k, mu / k))``: mean ``mu``, variance
``mu + mu^2 / k``; a small shape ``k`` gives lumpy, intermittent series.

All parameters are stored with absolute dates (``DemandParams``), so a simulator can evaluate
the same demand process on any date range and replay it under a different policy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

# Independent random streams: default_rng([seed, stream]); changing one never shifts another.
STREAM_CATALOG = 0
STREAM_DEMAND_PARAMS = 1
STREAM_DEMAND_NOISE = 2
STREAM_SUPPLY = 3
STREAM_FEEDS = 4

# Equipment dealers: Saturday is the big day, Sunday is busier than midweek (Monday first).
WEEKLY_SHAPE = np.array([0.90, 0.85, 0.85, 0.90, 1.05, 1.45, 1.00])


@dataclass(frozen=True)
class DemandParams:
    """Parameters of the true demand process; arrays are indexed [dealer, sku] unless noted.

    Attributes
    ----------
    dealer_ids, skus : numpy.ndarray
        Labels of the dealer (D,) and SKU (S,) axes.
    anchor : numpy.datetime64
        Day at which ``base_rate`` holds and the trend is zero (the world's first day).
    carried : numpy.ndarray of bool
        Whether the dealer sells the SKU at all; demand is zero for pairs not carried.
    base_rate : numpy.ndarray
        Mean units per day at ``anchor`` before seasonality, promotions and lifecycle.
    dispersion : numpy.ndarray
        Gamma shape ``k`` of the gamma-Poisson count (small = lumpy).
    trend_per_year : numpy.ndarray
        Log growth per year (0.1 = about +10 % a year).
    is_intermittent : numpy.ndarray of bool
        Pairs of slow SKUs (a few units a month, many zero days).
    weekly_profile : numpy.ndarray
        (D, 7) day-of-week factors, Monday first, mean 1.
    yearly_amplitude, yearly_peak_doy : numpy.ndarray
        (S,) yearly seasonality of the SKU's category.
    launch_date, ramp_days : numpy.ndarray
        (S,) first day of demand for new SKUs (NaT otherwise) and the length of the linear ramp.
    decline_start, decline_halflife_days, discontinue_date : numpy.ndarray
        (S,) dying SKUs: demand halves every ``decline_halflife_days`` after ``decline_start``
        and stops on ``discontinue_date`` (NaT for SKUs that are not dying).
    promo_sku, promo_start, promo_end, promo_uplift : numpy.ndarray
        (P,) promotions: SKU index, first and last day (inclusive), demand multiplier.
    promo_dealers : numpy.ndarray of bool
        (P, D) dealers taking part in each promotion.
    """

    dealer_ids: np.ndarray
    skus: np.ndarray
    anchor: np.datetime64
    carried: np.ndarray
    base_rate: np.ndarray
    dispersion: np.ndarray
    trend_per_year: np.ndarray
    is_intermittent: np.ndarray
    weekly_profile: np.ndarray
    yearly_amplitude: np.ndarray
    yearly_peak_doy: np.ndarray
    launch_date: np.ndarray
    ramp_days: np.ndarray
    decline_start: np.ndarray
    decline_halflife_days: np.ndarray
    discontinue_date: np.ndarray
    promo_sku: np.ndarray
    promo_start: np.ndarray
    promo_end: np.ndarray
    promo_uplift: np.ndarray
    promo_dealers: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.base_rate.shape

    def for_dealers(self, dealers: slice) -> DemandParams:
        """The same process restricted to a range of dealers (SKU-level parts unchanged)."""
        return replace(
            self,
            dealer_ids=self.dealer_ids[dealers],
            carried=self.carried[dealers],
            base_rate=self.base_rate[dealers],
            dispersion=self.dispersion[dealers],
            trend_per_year=self.trend_per_year[dealers],
            is_intermittent=self.is_intermittent[dealers],
            weekly_profile=self.weekly_profile[dealers],
            promo_dealers=self.promo_dealers[:, dealers],
        )

    def pair_frame(self) -> pd.DataFrame:
        """One row per dealer x SKU with the per-pair parameters (carried or not)."""
        n_d, n_s = self.shape
        return pd.DataFrame(
            {
                "dealer_id": np.repeat(self.dealer_ids, n_s),
                "sku": np.tile(self.skus, n_d),
                "carried": self.carried.ravel(),
                "base_rate": self.base_rate.ravel(),
                "dispersion": self.dispersion.ravel(),
                "trend_per_year": self.trend_per_year.ravel(),
                "is_intermittent": self.is_intermittent.ravel(),
            }
        )

    def promotions(self) -> pd.DataFrame:
        """One row per promotion: sku, start, end (inclusive), uplift, dealer_ids."""
        return pd.DataFrame(
            {
                "sku": self.skus[self.promo_sku],
                "start": self.promo_start,
                "end": self.promo_end,
                "uplift": self.promo_uplift,
                "dealer_ids": [list(self.dealer_ids[m]) for m in self.promo_dealers],
            }
        )


def _days(dates) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[D]")


def draw_demand_params(
    dealers: pd.DataFrame,
    skus: pd.DataFrame,
    *,
    start: np.datetime64,
    days: int,
    rng: np.random.Generator,
) -> DemandParams:
    """Draw the demand parameters for a dealer network over ``days`` days from ``start``.

    Parameters
    ----------
    dealers, skus : pandas.DataFrame
        Frames from ``catalog.build_dealers`` / ``catalog.build_skus`` (``size``, ``velocity``,
        ``amplitude``, ``peak_doy`` are used).
    start : numpy.datetime64
        First day of the history; lifecycle events and promotions fall inside the history.
    days : int
        Length of the history.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    DemandParams
    """
    n_d, n_s = len(dealers), len(skus)
    start = np.datetime64(start, "D")
    slow = skus["velocity"].to_numpy() == "slow"

    # Not every dealer carries every SKU; slow SKUs are carried more selectively.
    carried = rng.random((n_d, n_s)) < np.where(slow, 0.75, 0.92)[None, :]
    for s in np.flatnonzero(~carried.any(axis=0)):
        carried[int(rng.integers(n_d)), s] = True
    for d in np.flatnonzero(~carried.any(axis=1)):
        carried[d, int(rng.integers(n_s))] = True

    sku_rate = np.where(
        slow, rng.lognormal(np.log(0.12), 0.6, n_s), rng.lognormal(np.log(2.5), 0.6, n_s)
    )
    size = dealers["size"].to_numpy()
    base_rate = sku_rate[None, :] * size[:, None] * rng.lognormal(0.0, 0.3, (n_d, n_s))
    base_rate = np.where(carried, base_rate, 0.0)
    dispersion = np.where(
        slow[None, :], rng.uniform(0.3, 1.2, (n_d, n_s)), rng.uniform(2.0, 10.0, (n_d, n_s))
    )
    trend = rng.normal(0.03, 0.12, n_s)[None, :] + rng.normal(0.0, 0.05, (n_d, n_s))
    trend = np.clip(trend, -0.35, 0.4)

    weekly = WEEKLY_SHAPE[None, :] * rng.lognormal(0.0, 0.05, (n_d, 7))
    weekly = weekly / weekly.mean(axis=1, keepdims=True)

    # Lifecycle: about 10 % of SKUs launch mid-history, about 8 % decline and are discontinued.
    nat = np.datetime64("NaT", "D")
    kind = rng.choice(3, n_s, p=[0.82, 0.10, 0.08])  # 0 steady, 1 new, 2 dying
    if n_s >= 5:
        free = np.flatnonzero(kind == 0)
        if not (kind == 1).any():
            kind[free[len(free) // 3]] = 1
        if not (kind == 2).any():
            kind[free[2 * len(free) // 3]] = 2
    launch = np.where(kind == 1, start + (rng.uniform(0.2, 0.75, n_s) * days).astype(int), nat)
    ramp = rng.integers(14, 61, n_s)
    decline = np.where(kind == 2, start + (rng.uniform(0.15, 0.7, n_s) * days).astype(int), nat)
    halflife = rng.uniform(30.0, 90.0, n_s)
    discontinue = np.where(
        kind == 2, decline + (halflife * rng.uniform(2.5, 5.0, n_s)).astype(int), nat
    )

    # Promotions: a few multi-day uplifts on fast SKUs, network-wide or in one region.
    fast_idx = np.flatnonzero(~slow)
    n_promos = max(2, int(round(0.2 * n_s * days / 365.0))) if len(fast_idx) else 0
    promo_sku = rng.choice(fast_idx, n_promos) if n_promos else np.zeros(0, dtype=int)
    duration = rng.integers(5, 15, n_promos)
    promo_start = start + (rng.random(n_promos) * np.maximum(days - duration, 1)).astype(int)
    promo_end = promo_start + duration - 1
    uplift = rng.uniform(1.6, 3.0, n_promos)
    regions = dealers["region"].to_numpy()
    unique_regions = np.unique(regions)
    promo_dealers = np.ones((n_promos, n_d), dtype=bool)
    for p in range(n_promos):
        if rng.random() < 0.5:
            promo_dealers[p] = regions == unique_regions[int(rng.integers(len(unique_regions)))]

    return DemandParams(
        dealer_ids=dealers["dealer_id"].to_numpy(dtype=object),
        skus=skus["sku"].to_numpy(dtype=object),
        anchor=start,
        carried=carried,
        base_rate=base_rate,
        dispersion=dispersion,
        trend_per_year=trend,
        is_intermittent=carried & slow[None, :],
        weekly_profile=weekly,
        yearly_amplitude=skus["amplitude"].to_numpy(dtype=float),
        yearly_peak_doy=skus["peak_doy"].to_numpy(dtype=float),
        launch_date=launch.astype("datetime64[D]"),
        ramp_days=ramp,
        decline_start=decline.astype("datetime64[D]"),
        decline_halflife_days=halflife,
        discontinue_date=discontinue.astype("datetime64[D]"),
        promo_sku=promo_sku.astype(int),
        promo_start=promo_start.astype("datetime64[D]"),
        promo_end=promo_end.astype("datetime64[D]"),
        promo_uplift=uplift,
        promo_dealers=promo_dealers,
    )


def lifecycle_factor(params: DemandParams, dates) -> np.ndarray:
    """(S, T) multiplier for launches (0 then a linear ramp) and declines (halving, then 0)."""
    t = _days(dates)[None, :]
    factor = np.ones((len(params.skus), t.shape[1]))
    launch = params.launch_date[:, None]
    has_launch = ~np.isnat(launch)
    since_launch = (t - np.where(has_launch, launch, t)).astype(float)
    ramp = np.clip((since_launch + 1.0) / params.ramp_days[:, None], 0.0, 1.0)
    factor = np.where(has_launch, ramp, factor)
    decline = params.decline_start[:, None]
    has_decline = ~np.isnat(decline)
    since_decline = (t - np.where(has_decline, decline, t)).astype(float)
    decay = 0.5 ** (np.maximum(since_decline, 0.0) / params.decline_halflife_days[:, None])
    factor = np.where(has_decline, factor * decay, factor)
    stopped = t >= params.discontinue_date[:, None]  # NaT compares False: never stopped
    return np.where(stopped, 0.0, factor)


def expected_daily_demand(params: DemandParams, dates, *, promotions: bool = True) -> np.ndarray:
    """Mean demand per dealer x SKU x day (float array of shape (D, S, T)).

    Parameters
    ----------
    params : DemandParams
        The demand process.
    dates : array-like of dates
        Days to evaluate (any range; need not match the world's history).
    promotions : bool, default True
        Include promotional uplifts. The manufacturer's planning in the world uses the
        expected demand without promotions, which is one reason promotions cause stockouts.

    Returns
    -------
    numpy.ndarray
    """
    days = _days(dates)
    day_num = days.astype(np.int64)
    dow = (day_num + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    years = (days - params.anchor).astype(float) / 365.25
    doy = (days - days.astype("datetime64[Y]")).astype(float) + 1.0

    mu = np.exp(params.trend_per_year[:, :, None] * years[None, None, :])
    mu *= params.base_rate[:, :, None]
    mu *= params.weekly_profile[:, dow][:, None, :]
    yearly = 1.0 + params.yearly_amplitude[:, None] * np.cos(
        2.0 * np.pi * (doy[None, :] - params.yearly_peak_doy[:, None]) / 365.25
    )
    mu *= (yearly * lifecycle_factor(params, days))[None, :, :]
    if promotions:
        for p in range(len(params.promo_sku)):
            in_promo = (days >= params.promo_start[p]) & (days <= params.promo_end[p])
            if in_promo.any():
                dealer_mask = params.promo_dealers[p]
                s = params.promo_sku[p]
                mu[np.ix_(dealer_mask, [s], in_promo)] *= params.promo_uplift[p]
    return mu


def true_daily_demand(params: DemandParams, dates, *, seed: int) -> np.ndarray:
    """Draw the true daily demand (int array (D, S, T)) for ``dates``; no inventory involved.

    Parameters
    ----------
    params : DemandParams
        The demand process (``World.params``).
    dates : array-like of dates
        Days to draw. With the world's own dates and seed this reproduces ``World.demand``
        exactly; any other range gives a fresh draw of the same process.
    seed : int
        World seed; the draw uses the stream ``numpy.random.default_rng([seed, 2])``.

    Returns
    -------
    numpy.ndarray
        Units demanded per dealer x SKU x day (zero for pairs not carried).

    Notes
    -----
    ``demand ~ Poisson(lambda)``, ``lambda ~ Gamma(shape=k, scale=mu / k)``: a negative
    binomial with mean ``mu`` and variance ``mu + mu**2 / k``.
    """
    return DemandNoise(params, dates, seed=seed).draw(params.shape[0])


class DemandNoise:
    """``true_daily_demand`` drawn dealer block by dealer block, with the very same numbers.

    The whole draw takes every gamma variate (dealer-major), then every Poisson count, from one
    stream. Blocks reproduce it with two copies of that stream: one draws the gamma variates
    block by block, the other first skips all of them (drawn once and dropped, block by block)
    and then draws the counts. Call ``draw`` with increasing ``stop`` until the last dealer.
    """

    def __init__(self, params: DemandParams, dates, *, seed: int, skip_cells: int = 4_000_000):
        self.params = params
        self.dates = _days(dates)
        self.seed = seed
        self.skip_cells = skip_cells
        self._gamma = np.random.default_rng([seed, STREAM_DEMAND_NOISE])
        self._poisson: np.random.Generator | None = None
        self._next = 0

    def _skip_gamma_variates(self) -> np.random.Generator:
        rng = np.random.default_rng([self.seed, STREAM_DEMAND_NOISE])
        n_d, n_s = self.params.shape
        step = max(1, self.skip_cells // max(1, n_s * len(self.dates)))
        for first in range(0, n_d, step):
            k = self.params.dispersion[first : first + step, :, None]
            # Same shape parameters, same variates used: gamma(k, scale) is scale * this.
            rng.standard_gamma(np.broadcast_to(k, (*k.shape[:2], len(self.dates))))
        return rng

    def draw(self, stop: int) -> np.ndarray:
        """Demand (B, S, T) of the dealers from the previous ``stop`` (0 at first) to ``stop``."""
        first, n_d = self._next, self.params.shape[0]
        if not first < stop <= n_d:
            raise ValueError(f"dealer blocks must advance in order, got {first}..{stop}")
        part = self.params.for_dealers(slice(first, stop))
        mu = expected_daily_demand(part, self.dates)
        k = part.dispersion[:, :, None]
        lam = self._gamma.gamma(np.broadcast_to(k, mu.shape), mu / k)
        del mu
        if self._poisson is None:
            # One block with every dealer: the counts follow the gamma variates directly.
            whole = first == 0 and stop == n_d
            self._poisson = self._gamma if whole else self._skip_gamma_variates()
        self._next = stop
        return self._poisson.poisson(lam).astype(np.int32)
