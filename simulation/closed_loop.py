"""Closed-loop backtest of the replenishment policy against a classic ERP min/max rule.

`simulate` (what `vmi simulate` runs) builds a synthetic dealer world with `sampledata`, uses
its first `warmup_weeks` as the history both planners learn from (sales as the dealers
reported them under the manufacturer's old process, censored where the shelf was empty) and
then plays the world's true daily demand twice, from the same stock:

* **policy**: the nightly run's path. At each review the observed weeks go through
  `replenishment.demand.forecast_history` (a frame shaped like marts.fct_weekly_demand) into
  `forecasting.forecast_with_diagnostics` (refitted every `refit_weeks` weeks), the weekly
  forecast is spread over days by `replenishment.demand.daily_demand` and
  `replenishment.policy.compute_suggestions` sets the order;
* **baseline**: classic ERP min/max: a 12-week moving average of raw daily sales ``d`` and the
  sd of raw daily sales over the last 52 weeks ``s`` (seasonal swings, trend, promotions and
  stock-out zeros included, as an ERP computes it); ``min = d L + z s sqrt(L)``,
  ``max = min + d R``; order up to max when the position is at or below min.

Both see the same demand draws and the same lead-time draw for an order placed in the same
week (common random numbers), the same pack sizes and MOQs, the same review days, and lose the
sales they cannot serve. The loop first runs `SETTLE_WEEKS` unmeasured weeks so the old
process's stock and shipments wash out; `weeks` are measured after that. Nothing in a
planner's decision uses future demand (except the ``oracle`` calibration check); lead times
come from the receipts of the warm-up, as the nightly run learns them.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from forecasting import (
    classify_demand,
    forecast_chunk,
    forecast_with_diagnostics,
    join_chunks,
    seasonal_profiles,
    split_panel,
)
from replenishment import demand as nightly_demand
from replenishment import plan as nightly_plan
from replenishment.config import PolicyConfig, load_policy_config
from replenishment.policy import compute_suggestions, sum_daily_path
from sampledata import build_world, expected_daily_demand
from simulation.breakdown import ReviewLog, by_lifecycle, lifecycle

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
# The production forecaster is refitted every REFIT_WEEKS weeks, at every review as the nightly
# run refits every night. A fit of 5 dealers x 40 SKUs takes 1-2 s on one core; fits run on
# FIT_WORKERS worker processes that live for the whole simulation (the nightly fans chunks
# out the same way, `forecasting.split_panel` / `forecast_chunk` / `join_chunks`), which
# brings weekly refits within the two-minute budget of a 52-week run on 2 cores (one core:
# 124-129 s). Refitting every 2 weeks cost 0.5 points of cycle service on seed 21 at 0.95,
# every 4 weeks 0.7-1.0 points on seeds 2 and 7 (docs/replenishment.md, "Refit schedule").
REFIT_WEEKS = 1
FIT_WORKERS = 2
# The nightly forecast call's prediction-interval level (flows/tasks.py, forecast_chunk).
FORECAST_LEVEL = 95
METRIC_KEYS = (
    "fill_rate", "cycle_service_level", "avg_on_hand_units", "avg_on_hand_value", "stockout_days",
    "bullwhip_ratio", "bullwhip_ratio_sell_through",
)  # fmt: skip


def simulate(
    *,
    weeks: int = 52,
    dealers: int = 5,
    skus: int = 40,
    seed: int = 7,
    service_level: float = 0.95,
    warmup_weeks: int = 52,
    forecaster: str = "forecasting",
    baseline_z: float | None = None,
    refit_weeks: int = REFIT_WEEKS,
    config: PolicyConfig | None = None,
    breakdown: bool = False,
    workers: int | None = None,
) -> dict:
    """Run the policy and the min/max baseline over the same simulated demand.

    Parameters
    ----------
    weeks
        Measured weeks, after the warm-up and `SETTLE_WEEKS` unmeasured closed-loop weeks.
    dealers, skus, seed
        Size and seed of the synthetic world (`sampledata.build_world`).
    service_level
        Target cycle service level, applied to every pair (the policy uses it; the baseline
        uses its z unless `baseline_z` is given).
    warmup_weeks
        Weeks of history before the simulation, for the forecasts and the lead times.
    forecaster
        ``"forecasting"`` (default): the production path, as the nightly run: the weekly
        history through `replenishment.demand.forecast_history` (with
        `replenishment.demand.forecast_groups` of each SKU's category and dealer's region when
        the forecasting API takes ``groups=``) into `forecasting.forecast_with_diagnostics`,
        spread over days by `replenishment.demand.daily_demand`; refitted every `refit_weeks`
        weeks. ``"ses"``: exponential smoothing of weekly sales with the SKU category's
        seasonal profile pooled over last year's sales (a named alternative, about a second a
        run). ``"ses_flat"``: the same without the seasonal profile. ``"oracle"``: the true
        mean and spread (reads the future; a calibration check of the policy maths, not a
        forecast).
    baseline_z
        Safety factor z of the min/max baseline (>= 0); default Phi^-1(service_level), the
        policy's z. Changes the baseline only, so its stock-versus-fill curve can be traced.
    refit_weeks
        Weeks between two fits of the ``"forecasting"`` forecaster (>= 1).
    config
        Policy configuration (default: the shipped policy.yml).
    breakdown
        Also report the policy run by SKU lifecycle (`simulation.breakdown.by_lifecycle`):
        ``policy["by_lifecycle"]``.
    workers
        Worker processes for the ``"forecasting"`` fits (default: `FIT_WORKERS`, at most the
        machine's cores; 1 fits in this process). They are started once per call with the
        ``forkserver`` method, so a script that calls `simulate` needs the usual
        ``if __name__ == "__main__":`` guard. The result does not depend on it.

    Returns
    -------
    dict
        ``{"target_service_level", "weeks", "seed", "series", "forecaster", "baseline_z",
        "policy", "baseline"}``; ``series`` is the number of dealer x SKU pairs simulated,
        ``baseline_z`` the z the baseline ran at; ``policy`` and ``baseline`` each hold
        ``fill_rate`` (units sold / units demanded), ``cycle_service_level`` (share of review
        cycles of live pairs without a lost sale), ``avg_on_hand_units`` and
        ``avg_on_hand_value`` (network stock at the end of a day, averaged over days),
        ``stockout_days`` (pair-days with a lost sale), ``bullwhip_ratio`` (variance of
        weekly shipments / variance of weekly demand, summed over pairs) and
        ``bullwhip_ratio_sell_through`` (the same over the weekly units sold, the sell-out
        fct_bullwhip measures in the warehouse: lost sales are not in it).
    """
    _check(weeks, warmup_weeks, service_level)
    if forecaster not in FORECASTERS:
        raise ValueError(f"forecaster must be one of {', '.join(FORECASTERS)}, got {forecaster!r}")
    if baseline_z is not None and not (math.isfinite(baseline_z) and baseline_z >= 0):
        raise ValueError(f"baseline_z must be a number >= 0, got {baseline_z}")
    if refit_weeks < 1:
        raise ValueError(f"refit_weeks must be >= 1, got {refit_weeks}")
    z = float(stats.norm.ppf(service_level)) if baseline_z is None else float(baseline_z)
    config = config or load_policy_config()
    sim = _build(weeks=weeks, dealers=dealers, skus=skus, seed=seed, warmup_weeks=warmup_weeks)

    model = (
        _ProductionForecaster(sim, refit_weeks, workers)
        if forecaster == "forecasting"
        else FORECASTERS[forecaster](sim)
    )
    log: ReviewLog | None = [] if breakdown else None
    record: dict = {}
    try:
        orders = _policy_orders(sim, model, config, service_level, log)
        policy = _run(sim, orders, model.update, record)
    finally:
        model.close()
    if log is not None:
        short, live = _cycle_counts(sim, record["sold"])
        policy["by_lifecycle"] = by_lifecycle(sim.lifecycle, short, live, log)
    baseline = _run(sim, _baseline_orders(sim, z), None)
    return {
        "target_service_level": service_level,
        "weeks": weeks,
        "seed": seed,
        "series": sim.n,
        "forecaster": forecaster,
        "baseline_z": round(z, 4),
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
    the same fill rate. ``baseline_curve([z], ...)`` equals the ``baseline`` of
    ``simulate(..., baseline_z=z)``.

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
    if any(not z >= 0 for z in safety_factors):
        raise ValueError("safety factors must be >= 0")
    sim = _build(weeks=weeks, dealers=dealers, skus=skus, seed=seed, warmup_weeks=warmup_weeks)
    return [{"z": z, **_run(sim, _baseline_orders(sim, z), None)} for z in safety_factors]


def baseline_at_fill(
    fill_rate: float,
    *,
    z_max: float = 40.0,
    tolerance: float = 5e-4,
    weeks: int = 52,
    dealers: int = 5,
    skus: int = 40,
    seed: int = 7,
    warmup_weeks: int = 52,
) -> dict:
    """The min/max baseline tuned, by raising its z, to fill `fill_rate` of demand.

    Bisection on z in [0, `z_max`] (the baseline's fill rate rises with z, up to whole units)
    until its fill rate is within `tolerance` of `fill_rate`, or the bracket is narrower than
    0.001. Same draws as `simulate` and `baseline_curve` with the same world arguments.

    Returns
    -------
    dict
        ``z``, ``reached`` (False when even ``z_max`` fills less: the dict is then the run at
        ``z_max``, whose stock understates what the baseline would need) and the metric keys
        of `simulate` at that z (the lowest z found whose fill is at least `fill_rate` -
        `tolerance`).
    """
    _check(weeks, warmup_weeks, 0.95)
    sim = _build(weeks=weeks, dealers=dealers, skus=skus, seed=seed, warmup_weeks=warmup_weeks)

    def at(z: float) -> dict:
        return {"z": round(z, 4), **_run(sim, _baseline_orders(sim, z), None)}

    high = at(z_max)
    if high["fill_rate"] < fill_rate - tolerance:
        return {**high, "reached": False}
    low_z, best = 0.0, high
    high_z = z_max
    while high_z - low_z > 1e-3:
        mid = at((low_z + high_z) / 2)
        if mid["fill_rate"] >= fill_rate - tolerance:
            high_z, best = (low_z + high_z) / 2, mid
            if mid["fill_rate"] <= fill_rate + tolerance:
                break
        else:
            low_z = (low_z + high_z) / 2
    return {**best, "reached": True}


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
    week_starts: np.ndarray  # Mondays of the warm-up and the simulated weeks
    dealer_id: np.ndarray
    sku: np.ndarray
    category: np.ndarray  # the SKU's category (master data)
    region: np.ndarray  # the dealer's region (master data)
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
    lifecycle: np.ndarray  # the generator's lifecycle group per pair (simulation.breakdown)
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
        week_starts=world.dates[::7],
        dealer_id=dealers_df["dealer_id"].to_numpy()[d_idx],
        sku=skus_df["sku"].to_numpy()[s_idx],
        category=skus_df["category"].to_numpy()[s_idx],
        region=dealers_df["region"].to_numpy()[d_idx],
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
        lifecycle=lifecycle(
            world.params.launch_date[s_idx],
            world.params.decline_start[s_idx],
            world.params.trend_per_year[d_idx, s_idx],
        ),
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


# observe(week's sales, week censored (a day ended empty), week stocked (a day ended with stock))
Observer = Callable[[np.ndarray, np.ndarray, np.ndarray], None]


def _run(
    sim: _Sim, orders: OrderRule, observe: Observer | None, record: dict | None = None
) -> dict:
    """Play the loop; `record`, when given, receives the daily ``sold`` and weekly ``shipped``
    arrays (pairs x days, pairs x weeks, settling weeks included)."""
    days, warm = 7 * sim.weeks, sim.warm_days
    horizon = days + int(sim.lead_draw.max()) + 1
    arrivals = np.zeros((sim.n, horizon), dtype=np.int64)
    arrivals[:, :days] = sim.arrivals0
    in_transit = sim.arrivals0.sum(axis=1)
    on_hand = sim.on_hand0.copy()
    sold = np.zeros((sim.n, days), dtype=np.int64)
    on_hand_end = np.zeros((sim.n, days), dtype=np.int64)
    shipped = np.zeros((sim.n, sim.weeks), dtype=np.int64)
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
        shipped[:, week] = qty
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
                (on_hand_end[:, week_days] > 0).any(axis=1),
            )
    if record is not None:
        record.update(sold=sold, shipped=shipped)
    return _metrics(sim, sold, on_hand_end, shipped)


def _metrics(sim: _Sim, sold: np.ndarray, on_hand_end: np.ndarray, shipped: np.ndarray) -> dict:
    """The DESIGN metrics over the measured weeks (after the settling weeks).

    ``bullwhip_ratio`` pools the pairs: the sum over pairs of the variance of the weekly
    units shipped to the pair (ordered that week) over the sum of the variances of its weekly
    true demand, so a few big movers are not drowned by many near-constant slow ones (a
    pair-by-pair ratio is undefined for a pair whose demand never varies).
    ``bullwhip_ratio_sell_through`` pools the same way over the weekly units sold.
    """
    short_cycles, live_cycles = _cycle_counts(sim, sold)
    first = 7 * sim.settle
    demand, sold, on_hand_end = sim.demand[:, first:], sold[:, first:], on_hand_end[:, first:]
    lost = demand - sold
    weeks = sim.weeks - sim.settle
    demanded = float(demand.sum())
    value = (on_hand_end * sim.unit_cost[:, None]).sum(axis=0)
    demand_week = demand.reshape(sim.n, weeks, 7).sum(axis=2)
    demand_var = float(demand_week.var(axis=1).sum())
    shipped_var = float(shipped[:, sim.settle :].var(axis=1).sum())
    sold_var = float(sold.reshape(sim.n, weeks, 7).sum(axis=2).var(axis=1).sum())
    return {
        "fill_rate": round(float(sold.sum()) / demanded, 4) if demanded else 1.0,
        "cycle_service_level": round(float(1.0 - short_cycles.sum() / live_cycles.sum()), 4)
        if live_cycles.any()
        else 1.0,
        "avg_on_hand_units": round(float(on_hand_end.sum(axis=0).mean()), 2),
        "avg_on_hand_value": round(float(value.mean()), 2),
        "stockout_days": int((lost > 0).sum()),
        "bullwhip_ratio": round(shipped_var / demand_var, 3) if demand_var > 0 else None,
        "bullwhip_ratio_sell_through": round(shipped_var / sold_var, 3) if sold_var > 0 else None,
    }


def _cycle_counts(sim: _Sim, sold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, over the measured weeks: review cycles of a live pair (some true demand) with
    a lost sale, and live review cycles. `sold` is the daily sales from the loop's start.

    A pair's cycle runs from one review of its dealer to the next. Weeks before the first
    measured review belong to a cycle that began while settling: left out.
    """
    first, weeks = 7 * sim.settle, sim.weeks - sim.settle
    lost_week = (sim.demand[:, first:] - sold[:, first:]).reshape(sim.n, weeks, 7).sum(axis=2)
    live_week = sim.expected[:, first:].reshape(sim.n, weeks, 7).sum(axis=2)
    cycle_id = np.cumsum(sim.due[:, sim.settle :], axis=1)
    short, live = np.zeros(sim.n, dtype=np.int64), np.zeros(sim.n, dtype=np.int64)
    for i in range(sim.n):
        is_live = (np.bincount(cycle_id[i], weights=live_week[i]) > 0)[1:]
        is_short = (np.bincount(cycle_id[i], weights=lost_week[i]) > 0)[1:]
        short[i], live[i] = int((is_short & is_live).sum()), int(is_live.sum())
    return short, live


def _launch_minimum(sim: _Sim, week: int, seen: _Observed) -> np.ndarray:
    """One pack for pairs of a SKU launched in the last LAUNCH_WEEKS that never sold yet."""
    today = sim.dates[7 * week]
    launched = ~np.isnat(sim.launch) & (sim.launch <= today)
    recent = launched & (sim.launch > today - np.timedelta64(7 * LAUNCH_WEEKS, "D"))
    never_sold = seen.daily_sales.sum(axis=1) == 0
    return np.where(recent & never_sold, sim.pack_size, np.nan)


# --- the policy -----------------------------------------------------------------------------


def _policy_orders(
    sim: _Sim,
    model: _Forecaster,
    config: PolicyConfig,
    service_level: float,
    log: ReviewLog | None = None,
) -> OrderRule:
    def orders(week: int, on_hand: np.ndarray, in_transit: np.ndarray, seen: _Observed):
        due = sim.due[:, week]
        positions = _positions(sim, week, on_hand, in_transit, seen, service_level)
        demand = model.demand_frame(week, positions)
        out = compute_suggestions(
            positions[due], demand, config, run_id="simulation", as_of=_as_of(sim, week)
        )
        if log is not None and week >= sim.settle:  # the days the policy covered, as it saw them
            days = out["protection_days"].to_numpy(dtype=float)
            truth = [
                sum_daily_path(row[7 * week :], p)
                for row, p in zip(sim.expected[due], days, strict=True)
            ]
            log.append(
                (
                    np.flatnonzero(due),
                    out["demand_over_protection"].to_numpy(dtype=float),
                    np.asarray(truth),
                )
            )
        qty = np.zeros(sim.n, dtype=np.int64)
        qty[due] = out["suggested_qty"].to_numpy()
        return qty

    return orders


def _positions(
    sim: _Sim,
    week: int,
    on_hand: np.ndarray,
    in_transit: np.ndarray,
    seen: _Observed,
    service_level: float,
) -> pd.DataFrame:
    """Every pair's row of `compute_suggestions`' positions (marts.fct_replenishment_inputs)."""
    return pd.DataFrame(
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
    )


def _as_of(sim: _Sim, week: int) -> dt.date:
    """The run date of week `week`'s review: the Sunday before it (reviews are Monday mornings)."""
    return pd.Timestamp(sim.dates[7 * week]).date() - dt.timedelta(days=1)


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
    """Demand per pair (`compute_suggestions`' demand frame) from what has been observed so far."""

    def __init__(self, sim: _Sim) -> None:
        self.sim = sim
        n, weeks = sim.n, sim.warm_days // 7
        self.sales = sim.warm_daily.reshape(n, weeks, 7).sum(axis=2)
        self.censored = sim.warm_empty.reshape(n, weeks, 7).any(axis=2)
        # A week in which the pair had stock at some day's end (it shows in the feeds).
        self.stocked = ~sim.warm_empty.reshape(n, weeks, 7).all(axis=2)
        # Days of forecast the policy needs: the longest protection interval, whole weeks.
        self.horizon_weeks = int(np.ceil((sim.lead_mean + sim.review_days).max() / 7)) + 1

    @property
    def history(self) -> np.ndarray:
        """Weekly sales with stock-out weeks as NaN (unobserved demand, not zero)."""
        return np.where(self.censored, np.nan, self.sales)

    def update(self, week_sales: np.ndarray, censored: np.ndarray, stocked: np.ndarray) -> None:
        self.sales = np.column_stack([self.sales, week_sales])
        self.censored = np.column_stack([self.censored, censored])
        self.stocked = np.column_stack([self.stocked, stocked])

    def demand_frame(self, week: int, positions: pd.DataFrame) -> pd.DataFrame:
        """The demand frame for the review of `week`; `positions` has every pair's row."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the forecaster holds (worker processes); nothing by default."""

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

    def demand_frame(self, week: int, positions: pd.DataFrame) -> pd.DataFrame:
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


class _ProductionForecaster(_Forecaster):
    """The nightly run's demand: `forecasting.forecast_with_diagnostics` as flows/tasks.py calls it.

    At a refit the observed weeks become a frame shaped like marts.fct_weekly_demand
    (`dealer_id, sku, week_start, qty_sold, is_censored`, from the week of the pair's first
    activity: a sale or stock on the shelf) and go through
    `replenishment.demand.forecast_history`; the horizon is `replenishment.demand.horizon_weeks`
    of the longest protection interval, the season and frequency `SEASON_LENGTH` and `FREQ`,
    the interval level 95, and ``profiles=`` pooled by `forecasting.seasonal_profiles` over
    `replenishment.demand.forecast_groups` (the SKU's category, then the dealer's region), as
    the nightly `load_history` task does (tests/simulation/test_production_path.py checks the
    two give the same forecasts). Each review spreads the forecast over days with
    `replenishment.demand.daily_demand` from its own as-of and the pairs'
    `replenishment.plan.protection_days`, as the nightly `replenish` task does. With
    ``workers > 1`` the fits run in chunks (`forecasting.split_panel`, `forecast_chunk`,
    `join_chunks`, as the nightly's fan-out) on worker processes kept until `close`.
    """

    def __init__(
        self, sim: _Sim, refit_weeks: int = REFIT_WEEKS, workers: int | None = None
    ) -> None:
        super().__init__(sim)
        self.refit_weeks = refit_weeks
        self.workers = min(FIT_WORKERS, os.cpu_count() or 1) if workers is None else workers
        self.pool: ProcessPoolExecutor | None = None
        self.fitted_week: int | None = None
        self.forecasts = pd.DataFrame()
        self.diagnostics = pd.DataFrame()
        items = pd.DataFrame(
            {
                "dealer_id": sim.dealer_id,
                "sku": sim.sku,
                "category": sim.category,
                "region": sim.region,
            }
        )
        self.groups = nightly_demand.forecast_groups(items)

    def demand_frame(self, week: int, positions: pd.DataFrame) -> pd.DataFrame:
        if self.fitted_week is None or week - self.fitted_week >= self.refit_weeks:
            self._fit(positions)
            self.fitted_week = week
        return nightly_demand.daily_demand(
            self.forecasts,
            self.diagnostics,
            nightly_plan.protection_days(positions),
            _as_of(self.sim, week),
        )

    def weekly_demand(self) -> pd.DataFrame:
        """The observed weeks as marts.fct_weekly_demand rows (Monday `week_start`)."""
        n, n_weeks = self.sales.shape
        active = self.stocked | (self.sales > 0)
        first = np.where(active.any(axis=1), active.argmax(axis=1), n_weeks)
        pair, week = np.nonzero(np.arange(n_weeks)[None, :] >= first[:, None])
        return pd.DataFrame(
            {
                "dealer_id": self.sim.dealer_id[pair],
                "sku": self.sim.sku[pair],
                "week_start": pd.to_datetime(self.sim.week_starts[week]),
                "qty_sold": self.sales[pair, week],
                "is_censored": self.censored[pair, week],
            }
        )

    def horizon(self, positions: pd.DataFrame) -> int:
        """The nightly horizon, lengthened (never in practice) to outlast the refit interval."""
        longest = nightly_plan.longest_protection_days(
            positions, nightly_demand.HORIZON_LEAD_TIME_SDS
        )
        needed = self.refit_weeks + math.ceil(
            nightly_plan.protection_days(positions)["protection_days"].max() / 7
        )
        return max(nightly_demand.horizon_weeks(longest), needed)

    def _fit(self, positions: pd.DataFrame) -> None:
        # As the nightly run (flows/tasks.py): profiles pooled once, then the forecast.
        history = nightly_demand.forecast_history(self.weekly_demand())
        season = dict(season_length=nightly_demand.SEASON_LENGTH, freq=nightly_demand.FREQ)
        profiles = seasonal_profiles(history, groups=self.groups, **season)
        options = dict(horizon=self.horizon(positions), level=FORECAST_LEVEL, **season)
        if self.workers <= 1:
            self.forecasts, self.diagnostics = forecast_with_diagnostics(
                history, profiles=profiles, **options
            )
            return
        # As the nightly's fan-out: chunks of whole series with their own profiles, joined.
        if self.pool is None:
            context = multiprocessing.get_context("forkserver")  # as forecasting's own pool
            self.pool = ProcessPoolExecutor(self.workers, mp_context=context)
        chunks = [
            self.pool.submit(forecast_chunk, part, profiles=share, **options)
            for part, share in split_panel(history, profiles, slots=self.workers)
        ]
        self.forecasts, self.diagnostics = join_chunks([chunk.result() for chunk in chunks])

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None


class _OracleForecaster(_Forecaster):
    """The true mean demand and its true daily spread: a calibration check, not a forecast.

    It reads the future, so no real run could do this; with it the closed loop measures the
    policy maths alone (the service it reaches is the service the formulas promise).
    """

    def demand_frame(self, week: int, positions: pd.DataFrame) -> pd.DataFrame:
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
    "forecasting": _ProductionForecaster,
    "ses": _SesForecaster,
    "ses_flat": _FlatSesForecaster,
    "oracle": _OracleForecaster,
}
