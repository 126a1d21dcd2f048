"""Closed-loop backtest of the replenishment policy against a classic ERP min/max rule.

`simulate` (what `vmi simulate` runs) builds a synthetic dealer world with `sampledata`, uses
its first `warmup_weeks` as the history both planners learn from (sales as the dealers
reported them under the manufacturer's old process, censored where the shelf was empty) and
then plays the world's true daily demand twice, from the same stock:

* **policy**: each review, a forecast of demand from the observed sales (stock-out weeks left
  out, never read as zero demand) feeds `replenishment.policy.compute_suggestions`;
* **baseline**: classic ERP min/max: a 12-week moving average of raw daily sales ``d`` and the
  sd of raw daily sales over the last 52 weeks ``s`` (seasonal swings, trend, promotions and
  stock-out zeros included, as an ERP computes it); ``min = d L + z s sqrt(L)``,
  ``max = min + d R``; order up to max when the position is at or below min.

Both see the same demand draws and the same lead-time draw for an order placed in the same
week (common random numbers), the same pack sizes and MOQs, the same review days, and lose the
sales they cannot serve. The loop first runs `SETTLE_WEEKS` unmeasured weeks so the old
process's stock and shipments wash out; `weeks` are measured after that. Nothing in a
planner's decision uses future demand; lead times come from the receipts of the warm-up, as the
nightly run learns them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from forecasting import classify_demand
from replenishment.config import PolicyConfig, load_policy_config
from replenishment.policy import compute_suggestions
from sampledata import build_world, expected_daily_demand

# Weeks start on Monday; reviews happen on Monday morning before the shop opens.
SIM_START = dt.date(2024, 1, 1)
# Unmeasured closed-loop weeks first: the longest lead time plus review period is under 4 weeks,
# so after them every unit on the shelf was ordered by the planner being measured.
SETTLE_WEEKS = 4
BASELINE_MA_WEEKS = 12
BASELINE_SD_WEEKS = 52
SES_ALPHA = 0.15
# Category seasonal profile: weekly ratios smoothed over this many weeks (centred).
SEASON_SMOOTH_WEEKS = 5
# A newly launched SKU gets one pack on the shelf (the launch listing) while it has no sales
# to learn from, under both planners; otherwise neither could ever start selling it.
LAUNCH_WEEKS = 13
METRIC_KEYS = (
    "fill_rate", "cycle_service_level", "avg_on_hand_units", "avg_on_hand_value", "stockout_days",
)  # fmt: skip


def simulate(
    *,
    weeks: int = 52,
    dealers: int = 5,
    skus: int = 40,
    seed: int = 7,
    service_level: float = 0.95,
    warmup_weeks: int = 52,
    forecaster: str = "ses",
    config: PolicyConfig | None = None,
) -> dict:
    """Run the policy and the min/max baseline over the same simulated demand.

    Parameters
    ----------
    weeks
        Measured weeks, after the warm-up and `SETTLE_WEEKS` unmeasured closed-loop weeks.
    dealers, skus, seed
        Size and seed of the synthetic world (`sampledata.build_world`).
    service_level
        Target cycle service level, applied to every pair (both planners use its z).
    warmup_weeks
        Weeks of history before the simulation, for the forecasts and the lead times.
    forecaster
        ``"ses"`` (default): exponential smoothing of weekly sales with the SKU category's
        seasonal profile from last year's pooled sales, updated each week, sigma from its
        one-step errors; about a second. ``"ses_flat"``: the same without the seasonal
        profile. ``"forecasting"``: the project's `forecasting.forecast_with_diagnostics`,
        refitted every 4 weeks (tens of seconds). ``"oracle"``: the true mean and spread (reads
        the future; a calibration check of the policy maths, not a forecast).
    config
        Policy configuration (default: the shipped policy.yml).

    Returns
    -------
    dict
        ``{"target_service_level", "weeks", "seed", "series", "policy", "baseline"}``;
        ``series`` is the number of dealer x SKU pairs simulated; ``policy`` and ``baseline``
        each hold ``fill_rate`` (units sold / units demanded), ``cycle_service_level`` (share
        of review cycles of live pairs without a lost sale), ``avg_on_hand_units`` and
        ``avg_on_hand_value`` (network stock at the end of a day, averaged over days) and
        ``stockout_days`` (pair-days with a lost sale).
    """
    _check(weeks, warmup_weeks, service_level)
    if forecaster not in FORECASTERS:
        raise ValueError(f"forecaster must be one of {sorted(FORECASTERS)}, got {forecaster!r}")
    config = config or load_policy_config()
    sim = _build(weeks=weeks, dealers=dealers, skus=skus, seed=seed, warmup_weeks=warmup_weeks)

    model = FORECASTERS[forecaster](sim)
    policy = _run(sim, _policy_orders(sim, model, config, service_level), model.update)
    baseline = _run(sim, _baseline_orders(sim, float(stats.norm.ppf(service_level))), None)
    return {
        "target_service_level": service_level,
        "weeks": weeks,
        "seed": seed,
        "series": sim.n,
        "policy": policy,
        "baseline": baseline,
    }


def baseline_curve(
    safety_factors: Sequence[float],
    *,
    weeks: int = 52,
    dealers: int = 5,
    skus: int = 40,
    seed: int = 7,
    warmup_weeks: int = 52,
) -> list[dict]:
    """The min/max baseline alone at several safety factors z: its stock-versus-fill curve.

    Same world, demand and lead-time draws as `simulate` with the same arguments, so a
    policy run can be compared with the baseline tuned (by raising z, as a planner would) to
    the same fill rate.

    Parameters
    ----------
    safety_factors
        Values of z for the baseline's safety stock ``z x sd x sqrt(L)``, each >= 0; any
        size, since a min/max that misses its service is usually fixed by raising z.
    weeks, dealers, skus, seed, warmup_weeks
        As for `simulate`.

    Returns
    -------
    list of dict
        One dict per z: ``z`` plus the metric keys of `simulate`.
    """
    _check(weeks, warmup_weeks, 0.95)
    if any(z < 0 for z in safety_factors):
        raise ValueError("safety factors must be >= 0")
    sim = _build(weeks=weeks, dealers=dealers, skus=skus, seed=seed, warmup_weeks=warmup_weeks)
    return [{"z": z, **_run(sim, _baseline_orders(sim, z), None)} for z in safety_factors]


def _check(weeks: int, warmup_weeks: int, service_level: float) -> None:
    if weeks < 1 or warmup_weeks < 8:
        raise ValueError("weeks must be >= 1 and warmup_weeks >= 8")
    if not 0.5 < service_level < 0.9999 + 1e-12:
        raise ValueError(f"service_level must be between 0.5 and 0.9999, got {service_level}")


# --- the world ------------------------------------------------------------------------------


@dataclass
class _Sim:
    """Flat per-pair arrays (one entry per carried dealer x SKU) of one simulated world."""

    n: int
    weeks: int  # closed-loop weeks, settling ones included
    settle: int  # leading weeks not measured
    warm_days: int
    dates: np.ndarray  # (T,) simulated days
    dealer_id: np.ndarray
    sku: np.ndarray
    category: np.ndarray
    demand: np.ndarray  # (n, T) true daily demand
    expected: np.ndarray  # (n, T) its mean, to tell live pairs from dead ones
    dispersion: np.ndarray  # gamma shape k of the true demand (variance mu + mu^2 / k)
    on_hand0: np.ndarray  # stock at the end of the warm-up
    arrivals0: np.ndarray  # (n, T) receipts of shipments in flight at the start
    lead_draw: np.ndarray  # (n, weeks) days from an order in week k to its receipt
    lead_mean: np.ndarray  # learned from warm-up receipts, per pair (its dealer's)
    lead_sd: np.ndarray
    review_days: np.ndarray
    due: np.ndarray  # (n, weeks) whether the pair's dealer is reviewed in week k
    pack_size: np.ndarray
    moq: np.ndarray
    unit_cost: np.ndarray
    abc_class: np.ndarray
    launch: np.ndarray  # launch date per pair (NaT for established SKUs)
    warm_daily: np.ndarray  # (n, warm days) daily sales as reported
    warm_empty: np.ndarray  # (n, warm days) days that ended with an empty shelf


def _build(*, weeks: int, dealers: int, skus: int, seed: int, warmup_weeks: int) -> _Sim:
    warm = 7 * warmup_weeks
    loop_weeks = SETTLE_WEEKS + weeks
    days = 7 * loop_weeks
    world = build_world(dealers=dealers, skus=skus, days=warm + days, start=SIM_START, seed=seed)
    d_idx, s_idx = np.nonzero(world.params.carried)
    n = len(d_idx)
    dealers_df, skus_df = world.dealers, world.skus
    sup = world.supply

    # Lead times as the nightly run learns them: mean and sd of the warm-up receipts.
    received = sup.ship_day + sup.ship_lead < warm
    lead_mean = dealers_df["lead_time_days"].to_numpy(dtype=float).copy()
    lead_sd = dealers_df["lead_time_sd_days"].to_numpy(dtype=float).copy()
    for d in range(len(dealers_df)):
        leads = sup.ship_lead[received & (sup.ship_dealer == d)]
        if len(leads) >= 5:
            lead_mean[d], lead_sd[d] = float(leads.mean()), float(leads.std(ddof=1))

    # Shipments still in flight when the simulation starts arrive as scheduled.
    # (The world also ran its old process over the simulated weeks; those orders are ignored.)
    arrivals0 = np.zeros((dealers, skus, days), dtype=np.int64)
    landing = sup.ship_day + sup.ship_lead
    flying = (sup.ship_day < warm) & (landing >= warm) & (landing < warm + days)
    where = (sup.ship_dealer[flying], sup.ship_sku[flying], landing[flying] - warm)
    np.add.at(arrivals0, where, sup.ship_qty[flying])

    # Real lead times of new orders: gamma with each dealer's true mean and sd (as the world).
    rng = np.random.default_rng([seed, 101])
    true_mean = dealers_df["true_lead_time_days"].to_numpy(dtype=float)[d_idx]
    true_sd = dealers_df["true_lead_time_sd_days"].to_numpy(dtype=float)[d_idx]
    shape, scale = (true_mean / true_sd) ** 2, true_sd**2 / true_mean
    lead_draw = np.maximum(
        1, np.round(rng.gamma(shape[:, None], scale[:, None], (n, loop_weeks)))
    ).astype(np.int64)

    review = dealers_df["review_period_days"].to_numpy(dtype=int)[d_idx]
    phase = dealers_df["review_phase"].to_numpy(dtype=int)[d_idx]
    week_no = np.arange(loop_weeks)[None, :]
    due = (review[:, None] <= 7) | ((week_no + phase[:, None]) % 2 == 0)

    dates = world.dates[warm:]
    return _Sim(
        n=n,
        weeks=loop_weeks,
        settle=SETTLE_WEEKS,
        warm_days=warm,
        dates=dates,
        dealer_id=dealers_df["dealer_id"].to_numpy()[d_idx],
        sku=skus_df["sku"].to_numpy()[s_idx],
        category=skus_df["category"].to_numpy()[s_idx],
        demand=world.demand[d_idx, s_idx, warm:].astype(np.int64),
        expected=expected_daily_demand(world.params, dates)[d_idx, s_idx, :],
        dispersion=world.params.dispersion[d_idx, s_idx],
        on_hand0=sup.on_hand_end[d_idx, s_idx, warm - 1].astype(np.int64),
        arrivals0=arrivals0[d_idx, s_idx, :],
        lead_draw=lead_draw,
        lead_mean=lead_mean[d_idx],
        lead_sd=lead_sd[d_idx],
        review_days=review,
        due=due,
        pack_size=skus_df["pack_size"].to_numpy(dtype=int)[s_idx],
        moq=skus_df["moq"].to_numpy(dtype=int)[s_idx],
        unit_cost=skus_df["unit_cost"].to_numpy(dtype=float)[s_idx],
        abc_class=skus_df["abc_class"].to_numpy(dtype=object)[s_idx],
        launch=world.params.launch_date[s_idx],
        warm_daily=sup.sales[d_idx, s_idx, :warm].astype(float),
        warm_empty=sup.on_hand_end[d_idx, s_idx, :warm] <= 0,
    )


# --- the closed loop -----------------------------------------------------------------------


@dataclass
class _Observed:
    """What a planner knows at a review: daily sales and empty-shelf days up to yesterday."""

    daily_sales: np.ndarray  # (n, days so far)
    daily_empty: np.ndarray

    @property
    def weekly_sales(self) -> np.ndarray:
        n, days = self.daily_sales.shape
        return self.daily_sales.reshape(n, days // 7, 7).sum(axis=2)

    @property
    def weekly_censored(self) -> np.ndarray:
        n, days = self.daily_empty.shape
        return self.daily_empty.reshape(n, days // 7, 7).any(axis=2)


# orders(week, on_hand, in_transit, observed) -> units ordered per pair
OrderRule = Callable[[int, np.ndarray, np.ndarray, _Observed], np.ndarray]


def _run(
    sim: _Sim, orders: OrderRule, observe: Callable[[np.ndarray, np.ndarray], None] | None
) -> dict:
    days, warm = 7 * sim.weeks, sim.warm_days
    horizon = days + int(sim.lead_draw.max()) + 1
    arrivals = np.zeros((sim.n, horizon), dtype=np.int64)
    arrivals[:, :days] = sim.arrivals0
    in_transit = sim.arrivals0.sum(axis=1)
    on_hand = sim.on_hand0.copy()
    sold = np.zeros((sim.n, days), dtype=np.int64)
    on_hand_end = np.zeros((sim.n, days), dtype=np.int64)
    sales = np.zeros((sim.n, warm + days))
    sales[:, :warm] = sim.warm_daily
    empty = np.zeros((sim.n, warm + days), dtype=bool)
    empty[:, :warm] = sim.warm_empty
    rows = np.arange(sim.n)

    for week in range(sim.weeks):
        start = 7 * week
        seen = _Observed(sales[:, : warm + start], empty[:, : warm + start])
        qty = np.where(sim.due[:, week], orders(week, on_hand, in_transit, seen), 0)
        qty = qty.astype(np.int64)
        np.add.at(arrivals, (rows, start + sim.lead_draw[:, week]), qty)
        in_transit = in_transit + qty
        for t in range(start, start + 7):
            on_hand += arrivals[:, t]
            in_transit -= arrivals[:, t]
            sold[:, t] = np.minimum(sim.demand[:, t], on_hand)
            on_hand -= sold[:, t]
            on_hand_end[:, t] = on_hand
        week_days = slice(start, start + 7)
        sales[:, warm + start : warm + start + 7] = sold[:, week_days]
        empty[:, warm + start : warm + start + 7] = on_hand_end[:, week_days] <= 0
        if observe is not None:
            observe(
                sold[:, week_days].sum(axis=1).astype(float),
                empty[:, warm + start : warm + start + 7].any(axis=1),
            )
    return _metrics(sim, sold, on_hand_end)


def _metrics(sim: _Sim, sold: np.ndarray, on_hand_end: np.ndarray) -> dict:
    """The DESIGN metrics over the measured weeks (after the settling weeks)."""
    first = 7 * sim.settle
    demand, sold, on_hand_end = sim.demand[:, first:], sold[:, first:], on_hand_end[:, first:]
    lost = demand - sold
    weeks = sim.weeks - sim.settle
    # Review cycles: a pair's cycle runs from one review of its dealer to the next. Weeks before
    # the first measured review belong to a cycle that began while settling: left out.
    due = sim.due[:, sim.settle :]
    cycle_id = np.cumsum(due, axis=1)
    lost_week = lost.reshape(sim.n, weeks, 7).sum(axis=2)
    live_week = sim.expected[:, first:].reshape(sim.n, weeks, 7).sum(axis=2)
    short, live = [], []
    for i in range(sim.n):
        ids = cycle_id[i]
        short.append((np.bincount(ids, weights=lost_week[i]) > 0)[1:])
        live.append((np.bincount(ids, weights=live_week[i]) > 0)[1:])
    short_all, live_all = np.concatenate(short), np.concatenate(live)
    demanded = float(demand.sum())
    value = (on_hand_end * sim.unit_cost[:, None]).sum(axis=0)
    return {
        "fill_rate": round(float(sold.sum()) / demanded, 4) if demanded else 1.0,
        "cycle_service_level": round(float(1.0 - short_all[live_all].mean()), 4)
        if live_all.any()
        else 1.0,
        "avg_on_hand_units": round(float(on_hand_end.sum(axis=0).mean()), 2),
        "avg_on_hand_value": round(float(value.mean()), 2),
        "stockout_days": int((lost > 0).sum()),
    }


def _launch_minimum(sim: _Sim, week: int, seen: _Observed) -> np.ndarray:
    """One pack for pairs of a SKU launched in the last LAUNCH_WEEKS that never sold yet."""
    today = sim.dates[7 * week]
    launched = ~np.isnat(sim.launch) & (sim.launch <= today)
    recent = launched & (sim.launch > today - np.timedelta64(7 * LAUNCH_WEEKS, "D"))
    never_sold = seen.daily_sales.sum(axis=1) == 0
    return np.where(recent & never_sold, sim.pack_size, np.nan)


# --- the policy -----------------------------------------------------------------------------


def _policy_orders(
    sim: _Sim, model: _Forecaster, config: PolicyConfig, service_level: float
) -> OrderRule:
    def orders(week: int, on_hand: np.ndarray, in_transit: np.ndarray, seen: _Observed):
        due = sim.due[:, week]
        positions = pd.DataFrame(
            {
                "dealer_id": sim.dealer_id,
                "sku": sim.sku,
                "on_hand": on_hand.astype(float),
                "in_transit": in_transit.astype(float),
                "on_order": 0.0,
                "backorders": 0.0,
                "lead_time_days": sim.lead_mean,
                "lead_time_sd_days": sim.lead_sd,
                "review_period_days": sim.review_days,
                "pack_size": sim.pack_size,
                "moq": sim.moq,
                "abc_class": sim.abc_class,
                "service_level": service_level,
                "min_qty": _launch_minimum(sim, week, seen),
                "max_qty": np.nan,
            }
        )[due]
        demand = model.demand_frame(week)[due]
        as_of = pd.Timestamp(sim.dates[7 * week]).date() - dt.timedelta(days=1)
        out = compute_suggestions(positions, demand, config, run_id="simulation", as_of=as_of)
        qty = np.zeros(sim.n, dtype=np.int64)
        qty[due] = out["suggested_qty"].to_numpy()
        return qty

    return orders


# --- the baseline ---------------------------------------------------------------------------


def _baseline_orders(sim: _Sim, z: float) -> OrderRule:
    """Classic ERP min/max from raw observed daily sales (stock-out days count as zero)."""

    def orders(week: int, on_hand: np.ndarray, in_transit: np.ndarray, seen: _Observed):
        daily = seen.daily_sales[:, -7 * BASELINE_MA_WEEKS :].mean(axis=1)
        sd_daily = seen.daily_sales[:, -7 * BASELINE_SD_WEEKS :].std(axis=1, ddof=1)
        lead = sim.lead_mean
        minimum = daily * lead + z * sd_daily * np.sqrt(lead)
        maximum = minimum + daily * sim.review_days
        launch = _launch_minimum(sim, week, seen)
        minimum = np.fmax(minimum, launch)
        maximum = np.fmax(maximum, launch)
        position = on_hand + in_transit
        need = np.where(position <= minimum, maximum - position, 0.0)
        packs = np.ceil(np.maximum(need, 0.0) / sim.pack_size - 1e-9)
        qty = packs * sim.pack_size
        moq_units = np.ceil(sim.moq / sim.pack_size) * sim.pack_size
        return np.where(qty > 0, np.maximum(qty, moq_units), 0).astype(np.int64)

    return orders


# --- forecasters ---------------------------------------------------------------------------


class _Forecaster:
    """Weekly demand forecast per pair from what the planner has observed so far."""

    def __init__(self, sim: _Sim) -> None:
        self.sim = sim
        n, weeks = sim.n, sim.warm_days // 7
        self.sales = sim.warm_daily.reshape(n, weeks, 7).sum(axis=2)
        self.censored = sim.warm_empty.reshape(n, weeks, 7).any(axis=2)
        # Days of forecast the policy needs: the longest protection interval, whole weeks.
        self.horizon_weeks = int(np.ceil((sim.lead_mean + sim.review_days).max() / 7)) + 1

    @property
    def history(self) -> np.ndarray:
        """Weekly sales with stock-out weeks as NaN (unobserved demand, not zero)."""
        return np.where(self.censored, np.nan, self.sales)

    def update(self, week_sales: np.ndarray, censored: np.ndarray) -> None:
        self.sales = np.column_stack([self.sales, week_sales])
        self.censored = np.column_stack([self.censored, censored])

    def demand_frame(self, week: int) -> pd.DataFrame:
        raise NotImplementedError

    def _classes(self) -> list[str]:
        return [classify_demand(row[-52:])[0] for row in self.history]


class _SesForecaster(_Forecaster):
    """Exponential smoothing of weekly sales, seasonally adjusted by the SKU's category.

    The seasonal index of a week is the category's pooled sales ratio in the same week a year
    earlier (in-sample during the first year of history), smoothed over `SEASON_SMOOTH_WEEKS`
    weeks: one year of a single dealer's sales is too noisy, the category's pooled sales are
    not. The level is smoothed on deseasonalised sales. A stock-out week says demand was at
    least the sales: it may raise the level, never lower it, and is never scored. sigma is the
    root mean squared one-step error of the uncensored weeks (weekly units), spread over days
    as sigma / sqrt(7); the forecast path is level x the coming weeks' indices.
    """

    seasonal = True

    def __init__(self, sim: _Sim, alpha: float = SES_ALPHA) -> None:
        super().__init__(sim)
        self.alpha = alpha

    def demand_frame(self, week: int) -> pd.DataFrame:
        n_weeks = self.sales.shape[1]
        index = (
            self._seasonal_index(n_weeks + self.horizon_weeks)
            if self.seasonal
            else np.ones((self.sim.n, n_weeks + self.horizon_weeks))
        )
        level, sigma = self._smooth(index[:, :n_weeks])
        weekly_path = level[:, None] * index[:, n_weeks:]
        return pd.DataFrame(
            {
                "dealer_id": self.sim.dealer_id,
                "sku": self.sim.sku,
                "daily_rate": pd.Series(list(np.repeat(weekly_path / 7.0, 7, axis=1))),
                "sigma_daily": sigma / math.sqrt(7.0),
                "demand_class": self._classes(),
                "forecast_model": "ses_seasonal" if self.seasonal else "ses",
            }
        )

    def _seasonal_index(self, total_weeks: int) -> np.ndarray:
        """(n, total_weeks) multiplicative index per pair: observed weeks, then future ones."""
        sales, observed = self.sales, ~self.censored
        n_weeks = sales.shape[1]
        seen = observed[:, -52:]
        base = (sales[:, -52:] * seen).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
        index = np.ones((self.sim.n, total_weeks))
        for category in np.unique(self.sim.category):
            members = self.sim.category == category
            num = (sales * observed)[members].sum(axis=0)
            den = (base[:, None] * observed)[members].sum(axis=0)
            ratio = pd.Series(np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan))
            smooth = ratio.rolling(SEASON_SMOOTH_WEEKS, center=True, min_periods=1).mean()
            smooth = smooth.fillna(1.0).clip(lower=0.05).to_numpy()
            weeks = np.arange(total_weeks)
            # Last year's same week where it exists (always for the simulated weeks).
            source = np.where(weeks >= 52, weeks - 52, np.minimum(weeks, n_weeks - 1))
            index[members] = smooth[source]
        return index

    def _smooth(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.sim.n
        level = np.full(n, np.nan)
        sq_error, n_error, n_used = np.zeros(n), np.zeros(n), np.zeros(n)
        for w in range(self.sales.shape[1]):
            sales, censored, season = self.sales[:, w], self.censored[:, w], index[:, w]
            fresh = np.isnan(level)
            forecast = np.where(fresh, 0.0, level) * season
            usable = ~censored | fresh | (sales > forecast)
            scored = ~censored & ~fresh & (w >= 8)  # the first weeks only find the level
            sq_error += np.where(scored, (sales - forecast) ** 2, 0.0)
            n_error += scored
            adjusted = sales / season
            # A young series (a launch) averages its first weeks instead of smoothing them:
            # alpha 1/k for its k-th usable week until that falls below the steady alpha.
            n_used += usable
            alpha = np.maximum(self.alpha, 1.0 / np.maximum(n_used, 1))
            updated = np.where(fresh, adjusted, level + alpha * (adjusted - level))
            level = np.where(usable, updated, level)
        level = np.nan_to_num(level, nan=0.0)
        # Until a few errors are in, assume Poisson-like spread around the level.
        sigma = np.where(n_error >= 4, np.sqrt(sq_error / np.maximum(n_error, 1)), np.sqrt(level))
        return level, sigma


class _FlatSesForecaster(_SesForecaster):
    """`_SesForecaster` without the seasonal index: lags seasonal swings by about 1/alpha."""

    seasonal = False


class _PackageForecaster(_Forecaster):
    """`forecasting.forecast_with_diagnostics`, refitted every `refit_weeks` weeks."""

    def __init__(self, sim: _Sim, refit_weeks: int = 4) -> None:
        super().__init__(sim)
        self.refit_weeks = refit_weeks
        self.fitted_week = -refit_weeks
        self.path = np.zeros((sim.n, 1))
        self.frame = pd.DataFrame()

    def demand_frame(self, week: int) -> pd.DataFrame:
        from forecasting import forecast_with_diagnostics

        if week - self.fitted_week >= self.refit_weeks:
            n_weeks = self.sales.shape[1]
            grid = pd.date_range(
                end=pd.Timestamp(self.sim.dates[7 * week]), periods=n_weeks + 1, freq="W-MON"
            )[:-1]
            history = pd.DataFrame(
                {
                    "unique_id": np.repeat(np.arange(self.sim.n), n_weeks),
                    "ds": np.tile(grid, self.sim.n),
                    "y": self.history.ravel(),
                }
            )
            horizon = self.refit_weeks + self.horizon_weeks
            fc, diag = forecast_with_diagnostics(
                history, horizon=horizon, season_length=52, freq="W-MON"
            )
            fc = fc.sort_values(["unique_id", "ds"])
            self.path = fc["yhat"].to_numpy().reshape(self.sim.n, horizon)
            diag = diag.set_index("unique_id").loc[np.arange(self.sim.n)]
            self.frame = pd.DataFrame(
                {
                    "dealer_id": self.sim.dealer_id,
                    "sku": self.sim.sku,
                    "sigma_daily": diag["sigma"].fillna(0.0).to_numpy() / math.sqrt(7.0),
                    "demand_class": diag["demand_class"].to_numpy(),
                    "forecast_model": diag["model"].to_numpy(),
                }
            )
            self.fitted_week = week
        offset = week - self.fitted_week
        daily_paths = [np.repeat(row[offset:] / 7.0, 7) for row in self.path]
        return self.frame.assign(daily_rate=pd.Series(daily_paths, dtype=object))


class _OracleForecaster(_Forecaster):
    """The true mean demand and its true daily spread: a calibration check, not a forecast.

    It reads the future, so no real run could do this; with it the closed loop measures the
    policy maths alone (the service it reaches is the service the formulas promise).
    """

    def demand_frame(self, week: int) -> pd.DataFrame:
        start = 7 * week
        protection = np.ceil(self.sim.lead_mean + self.sim.review_days).astype(int) + 1
        paths, sigmas = [], []
        for i in range(self.sim.n):
            mu = self.sim.expected[i, start : start + protection[i]]
            paths.append(mu)
            variance = mu + mu**2 / self.sim.dispersion[i]
            sigmas.append(math.sqrt(variance.mean()) if len(mu) else 0.0)
        return pd.DataFrame(
            {
                "dealer_id": self.sim.dealer_id,
                "sku": self.sim.sku,
                "daily_rate": pd.Series(paths, dtype=object),
                "sigma_daily": sigmas,
                "demand_class": self._classes(),
                "forecast_model": "oracle",
            }
        )


FORECASTERS: dict[str, Callable[[_Sim], _Forecaster]] = {
    "ses": _SesForecaster,
    "ses_flat": _FlatSesForecaster,
    "forecasting": _PackageForecaster,
    "oracle": _OracleForecaster,
}
