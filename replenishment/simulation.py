"""Closed-loop backtest of the replenishment policy against a classic ERP min/max rule.

`simulate` (what `vmi simulate` runs) builds a synthetic dealer world with `sampledata`, uses
its first `warmup_weeks` as the history both planners learn from (sales as the dealers
reported them under the manufacturer's old process, censored where the shelf was empty) and
then plays `weeks` more weeks of the world's true daily demand twice, from the same stock:

* **policy**: each review, a forecast of weekly demand from the observed sales (stock-out
  weeks left out, never read as zero demand) feeds `replenishment.policy.compute_suggestions`;
* **baseline**: min/max from a 12-week moving average of raw sales and the raw weekly sales sd
  (min = lead-time demand + z x sd x sqrt(L), max = min + review-period demand; order up to
  max when the position is at or below min).

Both see the same demand, the same lead-time draws (gamma, per dealer), the same pack sizes
and MOQs, and lose the sales they cannot serve. Nothing in a planner's decision uses future
demand; lead times come from the receipts of the warm-up, as the nightly run learns them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
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
BASELINE_WINDOW_WEEKS = 12
SES_ALPHA = 0.15
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
        Simulated weeks after the warm-up.
    dealers, skus, seed
        Size and seed of the synthetic world (`sampledata.build_world`).
    service_level
        Target cycle service level, applied to every pair (both planners use its z).
    warmup_weeks
        Weeks of history before the simulation, for the forecasts and the lead times.
    forecaster
        ``"ses"`` (default): simple exponential smoothing of weekly sales, updated each
        week, sigma from its one-step errors; fast. ``"forecasting"``: the project's
        `forecasting.forecast_with_diagnostics` model choice, refitted every 4 weeks (minutes
        rather than seconds at the default size).
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
    if weeks < 1 or warmup_weeks < 8:
        raise ValueError("weeks must be >= 1 and warmup_weeks >= 8")
    if not 0.5 < service_level < 0.9999:
        raise ValueError(f"service_level must be between 0.5 and 0.9999, got {service_level}")
    if forecaster not in FORECASTERS:
        raise ValueError(f"forecaster must be one of {sorted(FORECASTERS)}, got {forecaster!r}")
    config = config or load_policy_config()
    sim = _build(weeks=weeks, dealers=dealers, skus=skus, seed=seed, warmup_weeks=warmup_weeks)

    model = FORECASTERS[forecaster](sim)
    policy = _run(sim, _policy_orders(sim, model, config, service_level), model.update)
    baseline = _run(sim, _baseline_orders(sim, service_level), None)
    return {
        "target_service_level": service_level,
        "weeks": weeks,
        "seed": seed,
        "series": sim.n,
        "policy": policy,
        "baseline": baseline,
    }


# --- the world ------------------------------------------------------------------------------


@dataclass
class _Sim:
    """Flat per-pair arrays (one entry per carried dealer x SKU) of one simulated world."""

    n: int
    weeks: int
    dates: np.ndarray  # (T,) simulated days
    dealer_id: np.ndarray
    sku: np.ndarray
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
    warm_sales: np.ndarray  # (n, warmup_weeks) weekly sales as reported
    warm_censored: np.ndarray  # (n, warmup_weeks) weeks with an empty shelf on some day


def _build(*, weeks: int, dealers: int, skus: int, seed: int, warmup_weeks: int) -> _Sim:
    warm = 7 * warmup_weeks
    world = build_world(
        dealers=dealers, skus=skus, days=warm + 7 * weeks, start=SIM_START, seed=seed
    )
    d_idx, s_idx = np.nonzero(world.params.carried)
    n = len(d_idx)
    dealers_df, skus_df = world.dealers, world.skus
    sup = world.supply

    sales = sup.sales[d_idx, s_idx, :warm].reshape(n, warmup_weeks, 7)
    empty = (sup.on_hand_end[d_idx, s_idx, :warm] <= 0).reshape(n, warmup_weeks, 7)

    # Lead times as the nightly run learns them: mean and sd of the warm-up receipts.
    received = sup.ship_day + sup.ship_lead < warm
    lead_mean = dealers_df["lead_time_days"].to_numpy(dtype=float).copy()
    lead_sd = dealers_df["lead_time_sd_days"].to_numpy(dtype=float).copy()
    for d in range(len(dealers_df)):
        leads = sup.ship_lead[received & (sup.ship_dealer == d)]
        if len(leads) >= 5:
            lead_mean[d], lead_sd[d] = float(leads.mean()), float(leads.std(ddof=1))

    # Shipments still in flight when the simulation starts arrive as scheduled.
    total = warm + 7 * weeks
    arrivals0 = np.zeros((dealers, skus, 7 * weeks), dtype=np.int64)
    # (The world also ran its old process over the simulated weeks; those orders are ignored.)
    flying = (
        (sup.ship_day < warm)
        & (sup.ship_day + sup.ship_lead >= warm)
        & (sup.ship_day + sup.ship_lead < total)
    )
    where = (sup.ship_dealer[flying], sup.ship_sku[flying], (sup.ship_day + sup.ship_lead)[flying])
    np.add.at(arrivals0, (where[0], where[1], where[2] - warm), sup.ship_qty[flying])

    # Real lead times of new orders: gamma with each dealer's true mean and sd (as the world).
    rng = np.random.default_rng([seed, 101])
    true_mean = dealers_df["true_lead_time_days"].to_numpy(dtype=float)[d_idx]
    true_sd = dealers_df["true_lead_time_sd_days"].to_numpy(dtype=float)[d_idx]
    shape, scale = (true_mean / true_sd) ** 2, true_sd**2 / true_mean
    lead_draw = np.maximum(
        1, np.round(rng.gamma(shape[:, None], scale[:, None], (n, weeks)))
    ).astype(np.int64)

    review = dealers_df["review_period_days"].to_numpy(dtype=int)[d_idx]
    phase = dealers_df["review_phase"].to_numpy(dtype=int)[d_idx]
    week_no = np.arange(weeks)[None, :]
    due = (review[:, None] <= 7) | ((week_no + phase[:, None]) % 2 == 0)

    dates = world.dates[warm:]
    return _Sim(
        n=n,
        weeks=weeks,
        dates=dates,
        dealer_id=dealers_df["dealer_id"].to_numpy()[d_idx],
        sku=skus_df["sku"].to_numpy()[s_idx],
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
        warm_sales=sales.sum(axis=2).astype(float),
        warm_censored=empty.any(axis=2),
    )


# --- the closed loop -----------------------------------------------------------------------

# orders(week, on_hand, in_transit, weekly_sales, weekly_censored) -> units ordered per pair
OrderRule = Callable[[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _run(
    sim: _Sim, orders: OrderRule, observe: Callable[[np.ndarray, np.ndarray], None] | None
) -> dict:
    days = 7 * sim.weeks
    horizon = days + int(sim.lead_draw.max()) + 1
    arrivals = np.zeros((sim.n, horizon), dtype=np.int64)
    arrivals[:, :days] = sim.arrivals0
    in_transit = sim.arrivals0.sum(axis=1)
    on_hand = sim.on_hand0.copy()
    sold = np.zeros((sim.n, days), dtype=np.int64)
    on_hand_end = np.zeros((sim.n, days), dtype=np.int64)
    weekly_sales, weekly_censored = sim.warm_sales.copy(), sim.warm_censored.copy()
    rows = np.arange(sim.n)

    for week in range(sim.weeks):
        start = 7 * week
        qty = np.where(
            sim.due[:, week],
            orders(week, on_hand, in_transit, weekly_sales, weekly_censored),
            0,
        ).astype(np.int64)
        np.add.at(arrivals, (rows, start + sim.lead_draw[:, week]), qty)
        in_transit = in_transit + qty
        for t in range(start, start + 7):
            on_hand += arrivals[:, t]
            in_transit -= arrivals[:, t]
            sold[:, t] = np.minimum(sim.demand[:, t], on_hand)
            on_hand -= sold[:, t]
            on_hand_end[:, t] = on_hand
        week_sales = sold[:, start : start + 7].sum(axis=1).astype(float)
        week_censored = (on_hand_end[:, start : start + 7] <= 0).any(axis=1)
        weekly_sales = np.column_stack([weekly_sales, week_sales])
        weekly_censored = np.column_stack([weekly_censored, week_censored])
        if observe is not None:
            observe(week_sales, week_censored)
    return _metrics(sim, sold, on_hand_end)


def _metrics(sim: _Sim, sold: np.ndarray, on_hand_end: np.ndarray) -> dict:
    lost = sim.demand - sold
    # Review cycles: a pair's cycle runs from one review of its dealer to the next.
    cycle_id = np.cumsum(sim.due, axis=1)  # weeks before the first review share cycle 0
    lost_week = lost.reshape(sim.n, sim.weeks, 7).sum(axis=2)
    live_week = sim.expected.reshape(sim.n, sim.weeks, 7).sum(axis=2)
    short, live = [], []
    for i in range(sim.n):
        ids = cycle_id[i]
        short.append(np.bincount(ids, weights=lost_week[i]) > 0)
        live.append(np.bincount(ids, weights=live_week[i]) > 0)
    short_all, live_all = np.concatenate(short), np.concatenate(live)
    demanded = float(sim.demand.sum())
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


def _launch_minimum(sim: _Sim, week: int, weekly_sales: np.ndarray) -> np.ndarray:
    """One pack for pairs of a SKU launched in the last LAUNCH_WEEKS that never sold yet."""
    today = sim.dates[7 * week]
    launched = ~np.isnat(sim.launch) & (sim.launch <= today)
    recent = launched & (sim.launch > today - np.timedelta64(7 * LAUNCH_WEEKS, "D"))
    never_sold = np.nansum(weekly_sales, axis=1) == 0
    return np.where(recent & never_sold, sim.pack_size, np.nan)


# --- the policy -----------------------------------------------------------------------------


def _policy_orders(
    sim: _Sim, model: _Forecaster, config: PolicyConfig, service_level: float
) -> OrderRule:
    def orders(week, on_hand, in_transit, weekly_sales, weekly_censored):  # noqa: ANN001
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
                "min_qty": _launch_minimum(sim, week, weekly_sales),
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


def _baseline_orders(sim: _Sim, service_level: float) -> OrderRule:
    z = float(stats.norm.ppf(service_level))

    def orders(week, on_hand, in_transit, weekly_sales, weekly_censored):  # noqa: ANN001
        recent = weekly_sales[:, -BASELINE_WINDOW_WEEKS:]  # raw sales, stock-outs and all
        daily = recent.mean(axis=1) / 7.0
        sd_daily = recent.std(axis=1, ddof=1) / math.sqrt(7.0)
        lead = sim.lead_mean
        minimum = daily * lead + z * sd_daily * np.sqrt(lead)
        maximum = minimum + daily * sim.review_days
        launch = _launch_minimum(sim, week, weekly_sales)
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
        self.history = np.where(sim.warm_censored, np.nan, sim.warm_sales)

    def update(self, week_sales: np.ndarray, censored: np.ndarray) -> None:
        self.history = np.column_stack([self.history, np.where(censored, np.nan, week_sales)])

    def demand_frame(self, week: int) -> pd.DataFrame:
        raise NotImplementedError

    def _classes(self) -> list[str]:
        return [classify_demand(row[-52:])[0] for row in self.history]


class _SesForecaster(_Forecaster):
    """Simple exponential smoothing of weekly sales, censored weeks as lower bounds only.

    A stock-out week says demand was at least the sales: it may raise the level, never lower
    it. sigma is the root mean squared one-step error of the uncensored weeks (weekly units),
    spread over days as sigma / sqrt(7).
    """

    def __init__(self, sim: _Sim, alpha: float = SES_ALPHA) -> None:
        super().__init__(sim)
        self.alpha = alpha
        self.level = np.full(sim.n, np.nan)
        self.sq_error = np.zeros(sim.n)
        self.n_error = np.zeros(sim.n)
        for sales, censored in zip(sim.warm_sales.T, sim.warm_censored.T, strict=True):
            self._step(sales, censored)

    def update(self, week_sales: np.ndarray, censored: np.ndarray) -> None:
        super().update(week_sales, censored)
        self._step(week_sales, censored)

    def _step(self, sales: np.ndarray, censored: np.ndarray) -> None:
        fresh = np.isnan(self.level)
        usable = ~censored | fresh | (sales > self.level)
        error = np.where(fresh, 0.0, sales - self.level)
        scored = usable & ~censored & ~fresh
        self.sq_error += np.where(scored, error**2, 0.0)
        self.n_error += scored
        updated = np.where(fresh, sales, self.level + self.alpha * error)
        self.level = np.where(usable, updated, self.level)

    def demand_frame(self, week: int) -> pd.DataFrame:
        level = np.nan_to_num(self.level, nan=0.0)
        # Until a few errors are in, assume Poisson-like spread around the level.
        sigma = np.where(
            self.n_error >= 4,
            np.sqrt(self.sq_error / np.maximum(self.n_error, 1)),
            np.sqrt(level),
        )
        return pd.DataFrame(
            {
                "dealer_id": self.sim.dealer_id,
                "sku": self.sim.sku,
                "daily_rate": level / 7.0,
                "sigma_daily": sigma / math.sqrt(7.0),
                "demand_class": self._classes(),
                "forecast_model": "ses",
            }
        )


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
            n_weeks = self.history.shape[1]
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
            protection = self.sim.lead_mean + self.sim.review_days
            horizon = self.refit_weeks + int(np.ceil(protection.max() / 7)) + 1
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
    "forecasting": _PackageForecaster,
    "oracle": _OracleForecaster,
}
