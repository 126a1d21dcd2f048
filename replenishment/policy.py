"""Periodic-review order-up-to policy: safety stock, order-up-to level and suggested quantity.

Pure pandas in, pandas out; the flow reads the marts and the forecast, calls
`compute_suggestions`, and writes the result. The maths is DESIGN.md "Replenishment policy";
docs/replenishment.md walks through it with a worked example.
"""

from __future__ import annotations

import math
from collections import namedtuple
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from replenishment.config import PolicyConfig
from replenishment.lost_sales import lost_sales_credit, phi

SUGGESTION_COLUMNS = [
    "run_id", "as_of", "dealer_id", "sku", "on_hand", "in_transit", "on_order",
    "inventory_position", "avg_daily_demand", "demand_class", "forecast_model",
    "lead_time_days", "lead_time_sd_days", "review_period_days", "protection_days",
    "demand_over_protection", "sigma_over_protection", "service_level", "z", "safety_stock",
    "order_up_to", "raw_need", "pack_size", "moq", "suggested_qty", "reason",
]  # fmt: skip

REQUIRED_POSITION_COLUMNS = ["dealer_id", "sku", "on_hand", "lead_time_days"]
REQUIRED_DEMAND_COLUMNS = ["dealer_id", "sku", "daily_rate"]

NO_HISTORY = "no_history"
# Distribution used for order_up_to, reported in `reason` (and in docs/replenishment.md).
NORMAL, POISSON, NEG_BINOMIAL = "normal", "Poisson", "negative binomial"
# Float slack so that 24.000000001 units needed does not round up to an extra pack.
_EPS = 1e-9
# Whole-unit normal level (`_whole_unit_normal_level`): at most this many safeguarded
# Newton steps (bisection when a step leaves the bracket; 60 halvings of a pack-wide bracket
# are exact to the float).
_NEWTON_STEPS = 60


def compute_suggestions(
    positions: pd.DataFrame,
    demand: pd.DataFrame,
    config: PolicyConfig,
    *,
    run_id: str,
    as_of: date,
) -> pd.DataFrame:
    """Suggested replenishment quantity, with its reason, for every active dealer x SKU.

    Parameters
    ----------
    positions
        One row per active pair: ``dealer_id, sku, on_hand, in_transit, on_order, backorders,
        lead_time_days, lead_time_sd_days, review_period_days, pack_size, moq, abc_class,
        service_level`` (per-pair override, nullable), ``min_qty, max_qty`` (nullable),
        ``is_stale, stale_days`` (and optionally ``stale_feed``, the name of the old feed).
        Missing optional columns count as empty.
    demand
        One row per pair: ``dealer_id, sku, daily_rate, sigma_daily, demand_class,
        forecast_model``. ``daily_rate`` is either the mean daily forecast over the coming weeks
        or an array of daily forecasts starting tomorrow (summed over the protection interval;
        the last value repeats if the array is short). ``sigma_daily`` is the per-day forecast
        error sd from the backtest. Pairs without a row have zero demand, class ``no_history``.
    config
        Validated policy configuration (`load_policy_config`).
    run_id, as_of
        Copied onto every row.

    Returns
    -------
    pandas.DataFrame
        DESIGN.md ``suggestions.csv`` columns, in that order, one row per row of `positions`.

    Notes
    -----
    With lead time ``L`` (mean, sd ``s_L``) and review period ``R``, protection ``P = L + R``::

        D       = daily_rate * P
        sigma_P = sqrt(P * sigma_d**2 + d**2 * s_L**2)
        SS      = z * sigma_P,  z = Phi^-1(service level)     (the classic level)
        OUT     = D + SS        (raised to min_qty when set)
        IP      = on_hand + in_transit + on_order - backorders
        need    = max(0, OUT - IP - C)

    ``C`` is the lost-sales credit (`config.unmet_demand == "lost"`, the default;
    `replenishment.lost_sales`): lead-time demand beyond the stock that can serve it
    (``on_hand + in_transit - backorders``) is lost, not owed, so the order need not cover it;
    0 with ``"backordered"`` (DESIGN.md's rule), on rows raised to ``min_qty``, where
    ``IP >= OUT``, and wherever that stock is safely above lead-time demand.

    Whole units: positions and demand are whole numbers, and an order of whole packs of ``q``
    up to ``OUT`` leaves the position on the ``q`` whole numbers from ``ceil(OUT)``, evenly
    over a long run. So ``OUT`` solves "the cycle service averaged over those positions (and
    over the fraction ``ceil(OUT) - OUT``) = service level", with whole-unit demand's service
    ``Phi((k + 1/2 - D) / sigma_P)`` at position ``k`` (`_whole_unit_normal_level`): about
    ``(q + 1) / 2`` units below the classic level, which over-delivers by those units;
    ``SS = OUT - D``, which a pack much wider than ``sigma_P`` can make negative. With
    ``sigma_P = 0``, ``OUT = D``.

    Slow movers (demand class in ``slow_demand.intermittent_classes`` or ``D`` below
    ``slow_demand.max_units_over_protection``) price ``OUT`` with a Poisson (variance <= ratio
    x mean) or negative binomial (mean ``D``, variance ``sigma_P**2``) demand over ``P``: the
    whole level whose service (averaged over the pack as above) is nearest the service level,
    of the smallest one reaching it (the quantile when ``q = 1``) and the one below
    (`_count_level`); then ``SS = OUT - D`` and ``z`` still reports Phi^-1(service level), the
    target, not an implied value.

    The quantity rounds ``need`` up to whole packs, lifts it to the MOQ (itself rounded up to
    whole packs), and caps it so that ``IP + qty <= max_qty`` in whole packs; when the cap
    falls below the MOQ nothing is ordered.
    """
    _require(positions, REQUIRED_POSITION_COLUMNS, "positions")
    _require(demand, REQUIRED_DEMAND_COLUMNS, "demand")
    frame = _prepare_positions(positions, config).merge(
        _prepare_demand(demand), on=["dealer_id", "sku"], how="left", validate="many_to_one"
    )
    frame["demand_class"] = frame["demand_class"].fillna(NO_HISTORY)
    frame["forecast_model"] = frame["forecast_model"].fillna("none")
    frame["sigma_daily"] = frame["sigma_daily"].fillna(0.0).clip(lower=0.0)

    protection = frame["lead_time_days"] + frame["review_period_days"]
    demand_over, daily, lead_demand = _demand_over_protection(
        frame["daily_rate"], protection, frame["lead_time_days"]
    )
    sigma_p = np.sqrt(
        protection * frame["sigma_daily"] ** 2 + daily**2 * frame["lead_time_sd_days"] ** 2
    )
    service = frame["service_level"]
    z = pd.Series(stats.norm.ppf(service), index=frame.index)

    pack = frame["pack_size"].to_numpy(dtype=float)
    distribution, count_level, count_service, at_quantile = _slow_mover_levels(
        frame["demand_class"], demand_over, sigma_p, service, pack, config
    )
    is_normal = distribution == NORMAL
    level = np.where(
        is_normal, _whole_unit_normal_level(demand_over, sigma_p, pack, service), count_level
    )
    safety = level - demand_over
    position = frame["on_hand"] + frame["in_transit"] + frame["on_order"] - frame["backorders"]
    policy_out = pd.Series(level, frame.index)
    min_qty = frame["min_qty"]
    raised_to_min = min_qty.notna() & (min_qty > policy_out)
    order_up_to = policy_out.where(~raised_to_min, min_qty)
    # Lost sales: lead-time demand beyond the stock that can serve it is not owed, so the order
    # need not cover it (the level itself, which alerts, transfers and the portal read, stands).
    credit = pd.Series(0.0, frame.index)
    if config.unmet_demand == "lost":
        # Only the shelf and what is on its way serve lead-time demand: orders approved but not
        # shipped (on_order) arrive with the new one.
        available = frame["on_hand"] + frame["in_transit"] - frame["backorders"]
        credit[:] = _lost_sales_credit(frame, demand_over, lead_demand, daily, available, service)
        # None on a planner's min_qty (a floor as given), nor where no order is needed anyway.
        credit = credit.where(~raised_to_min & (position < order_up_to), 0.0)
    raw_need = (order_up_to - position - credit).clip(lower=0.0)
    qty, packed, moq_units, capped = _round_quantity(
        raw_need, position, frame["pack_size"], frame["moq"], frame["max_qty"]
    )

    out = pd.DataFrame(
        {
            "run_id": run_id,
            "as_of": as_of,
            "dealer_id": frame["dealer_id"],
            "sku": frame["sku"],
            "on_hand": frame["on_hand"],
            "in_transit": frame["in_transit"],
            "on_order": frame["on_order"],
            "inventory_position": position,
            "avg_daily_demand": daily,
            "demand_class": frame["demand_class"],
            "forecast_model": frame["forecast_model"],
            "lead_time_days": frame["lead_time_days"],
            "lead_time_sd_days": frame["lead_time_sd_days"],
            "review_period_days": frame["review_period_days"],
            "protection_days": protection,
            "demand_over_protection": demand_over,
            "sigma_over_protection": sigma_p,
            "service_level": service,
            "z": z,
            "safety_stock": safety,
            "order_up_to": order_up_to,
            "raw_need": raw_need,
            "pack_size": frame["pack_size"],
            "moq": frame["moq"],
            "suggested_qty": qty,
        }
    )
    out["reason"] = _reasons(
        out,
        backorders=frame["backorders"],
        distribution=distribution,
        policy_out=policy_out,
        credit=credit,
        raised_to_min=raised_to_min,
        min_qty=min_qty,
        max_qty=frame["max_qty"],
        packed=packed,
        moq_units=moq_units,
        capped=capped,
        whole_units=is_normal & (sigma_p.to_numpy() > 0),
        count_service=count_service,
        at_quantile=at_quantile,
        is_stale=frame["is_stale"],
        stale_days=frame["stale_days"],
        stale_feed=frame["stale_feed"],
    )
    return out[SUGGESTION_COLUMNS].reset_index(drop=True)


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks column(s): {', '.join(missing)}")


def _numeric(frame: pd.DataFrame, column: str, default: float | None) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan if default is None else default, index=frame.index, dtype=float)
    values = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return values if default is None else values.fillna(default)


def _prepare_positions(positions: pd.DataFrame, config: PolicyConfig) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"dealer_id": positions["dealer_id"].astype(str), "sku": positions["sku"].astype(str)},
        index=positions.index,
    )
    for column in ("on_hand", "in_transit", "on_order", "backorders", "lead_time_sd_days"):
        frame[column] = _numeric(positions, column, 0.0)
    frame["lead_time_days"] = _numeric(positions, "lead_time_days", None)
    if frame["lead_time_days"].isna().any():
        bad = frame.loc[frame["lead_time_days"].isna(), ["dealer_id", "sku"]].head(3)
        pairs = ", ".join(f"{d}/{s}" for d, s in bad.itertuples(index=False))
        raise ValueError(f"positions: lead_time_days missing for pair(s) {pairs}")
    frame["review_period_days"] = _numeric(
        positions, "review_period_days", config.default_review_period_days
    )
    frame["pack_size"] = _numeric(positions, "pack_size", 1.0).clip(lower=1).round().astype(int)
    frame["moq"] = _numeric(positions, "moq", 0.0).clip(lower=0).round().astype(int)
    frame["min_qty"] = _numeric(positions, "min_qty", None)
    frame["max_qty"] = _numeric(positions, "max_qty", None)
    override = _numeric(positions, "service_level", None)
    abc = positions["abc_class"] if "abc_class" in positions else pd.Series(None, frame.index)
    by_class = abc.map(config.service_levels.for_class).astype(float)
    # Validation upstream keeps overrides in range; clipping here stops one bad master row
    # (a 1.0 would mean infinite safety stock) from failing every dealer's run.
    frame["service_level"] = override.where(override.notna(), by_class).clip(0.5, 0.9999)
    stale = positions["is_stale"] if "is_stale" in positions else pd.Series(False, frame.index)
    frame["is_stale"] = stale.fillna(False).astype(bool)
    frame["stale_days"] = _numeric(positions, "stale_days", None)
    feed = positions["stale_feed"] if "stale_feed" in positions else pd.Series(None, frame.index)
    frame["stale_feed"] = feed.astype(object).where(feed.notna(), "dealer")
    return frame.reset_index(drop=True)


def _prepare_demand(demand: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"dealer_id": demand["dealer_id"].astype(str), "sku": demand["sku"].astype(str)}
    )
    rates = demand["daily_rate"]
    frame["daily_rate"] = rates if rates.dtype == object else pd.to_numeric(rates).astype(float)
    sigma = _numeric(demand, "sigma_daily", 0.0)
    frame["sigma_daily"] = sigma.where(np.isfinite(sigma), 0.0).to_numpy()
    for column, default in (("demand_class", "unknown"), ("forecast_model", "unknown")):
        values = demand[column] if column in demand else pd.Series(default, demand.index)
        frame[column] = values.to_numpy()
    return frame


def _lost_sales_credit(
    frame: pd.DataFrame,
    demand_over: pd.Series,
    lead_demand: pd.Series,
    daily: pd.Series,
    available: pd.Series,
    service: pd.Series,
) -> np.ndarray:
    """`lost_sales_credit` with demand over L and over R split from the forecast and sigma_P."""
    lead_sd = np.sqrt(
        frame["lead_time_days"] * frame["sigma_daily"] ** 2
        + daily**2 * frame["lead_time_sd_days"] ** 2
    )
    review_sd = np.sqrt(frame["review_period_days"] * frame["sigma_daily"] ** 2)
    return lost_sales_credit(
        lead_demand.to_numpy(), lead_sd.to_numpy(), (demand_over - lead_demand).to_numpy(),
        review_sd.to_numpy(), available.to_numpy(), service.to_numpy(),
    )  # fmt: skip


def _demand_over_protection(
    rates: pd.Series, protection: pd.Series, lead_time: pd.Series
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Demand over P, the mean daily rate over P and demand over the lead time (for the
    lost-sales credit), from scalar rates or arrays of daily forecasts (`_path_sums`)."""
    is_array = rates.map(lambda v: isinstance(v, (list, tuple, np.ndarray)))
    if not is_array.any():
        daily = pd.to_numeric(rates, errors="coerce").astype(float)
        daily = daily.where(np.isfinite(daily), 0.0).clip(lower=0.0)
        return daily * protection, daily, daily * lead_time
    values = rates.to_numpy(dtype=object)
    days = np.column_stack([protection.to_numpy(dtype=float), lead_time.to_numpy(dtype=float)])
    paths = is_array.to_numpy()
    scalars = pd.to_numeric(pd.Series(np.where(paths, np.nan, values)), errors="coerce")
    sums = np.nan_to_num(scalars.to_numpy(dtype=float)).clip(min=0.0)[:, None] * days
    sums[paths] = _path_sums(values[paths], days[paths])
    total = pd.Series(sums[:, 0], index=rates.index)
    daily = (total / protection.where(protection > 0)).fillna(0.0)
    return total, daily, pd.Series(sums[:, 1], index=rates.index)


def _path_sums(paths: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Sum of every daily forecast path over its days (fractional last day; last value repeats;
    missing and negative days count 0), from one padded grid.

    `days` holds one horizon per path, shape ``(n,)``, or several, shape ``(n, k)``: each path
    is laid out once whatever the number of horizons.
    """
    if not len(paths):
        return np.zeros(np.shape(days))
    horizons = np.asarray(days, dtype=float).reshape(len(paths), -1)
    whole = np.floor(np.clip(horizons, 0.0, None)).astype(int)
    grid = np.zeros((len(paths), int(whole.max()) + 1))
    for i, path in enumerate(paths):
        path = np.asarray(path, dtype=float)[: grid.shape[1]]
        if path.size:
            grid[i, : path.size] = path
            grid[i, path.size :] = path[-1]  # the last value repeats
    grid = np.nan_to_num(grid).clip(min=0.0)
    before = np.concatenate([np.zeros((len(paths), 1)), np.cumsum(grid, axis=1)], axis=1)
    total = np.take_along_axis(before, whole, axis=1) + (horizons - whole) * np.take_along_axis(
        grid, whole, axis=1
    )
    return np.where(horizons > 0, total, 0.0).reshape(np.shape(days))


def sum_daily_path(path: np.ndarray, days: float) -> float:
    """Sum of a daily forecast path over `days` (fractional last day; last value repeats)."""
    one = np.empty(1, dtype=object)
    one[0] = path
    return float(_path_sums(one, np.array([days], dtype=float))[0])


def _slow_mover_levels(
    demand_class: pd.Series,
    demand_over: pd.Series,
    sigma_p: pd.Series,
    service: pd.Series,
    pack: np.ndarray,
    config: PolicyConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distribution name per row and, for slow movers, the whole-unit level over P.

    Returns the distribution, the level (`_count_level`), the cycle service it gives and
    whether it is the plain service-level quantile (NaN / False on normal rows).
    """
    slow_cfg = config.slow_demand
    slow = (
        demand_class.isin(slow_cfg.intermittent_classes)
        | (demand_over < slow_cfg.max_units_over_protection)
    ) & (demand_over > _EPS)  # below a billionth of a unit there is nothing to count
    variance = sigma_p**2
    negbin = (slow & (variance > slow_cfg.overdispersion_ratio * demand_over)).to_numpy()
    poisson = slow.to_numpy() & ~negbin

    distribution = np.full(len(demand_over), NORMAL, dtype=object)
    distribution[poisson] = POISSON
    distribution[negbin] = NEG_BINOMIAL
    level = np.full(len(demand_over), np.nan)
    achieved = np.full(len(demand_over), np.nan)
    at_quantile = np.zeros(len(demand_over), dtype=bool)
    target = service.to_numpy(dtype=float)
    if poisson.any():
        mean = demand_over.to_numpy()[poisson]
        level[poisson], achieved[poisson], at_quantile[poisson] = _count_level(
            stats.poisson, (mean,), (mean,), mean, target[poisson], pack[poisson]
        )
    if negbin.any():
        # Moment fit: mean m, variance v > m  ->  n = m^2 / (v - m), p = m / v.
        mean, var = demand_over.to_numpy()[negbin], variance.to_numpy()[negbin]
        n, p = mean**2 / (var - mean), mean / var
        level[negbin], achieved[negbin], at_quantile[negbin] = _count_level(
            stats.nbinom, (n, p), (n + 1, p), mean, target[negbin], pack[negbin]
        )
    # A level scipy cannot give (extreme moments) falls back to the normal approximation.
    distribution[np.isnan(level) & (distribution != NORMAL)] = NORMAL
    return distribution, level, achieved, at_quantile


def _count_level(
    family: Any,
    params: tuple[np.ndarray, ...],
    shifted: tuple[np.ndarray, ...],
    mean: np.ndarray,
    target: np.ndarray,
    pack: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole-unit order-up-to level of a count demand: the one whose service is nearest target.

    Ordering whole packs of ``q`` up to level ``y`` leaves the position on ``y .. y + q - 1``,
    evenly over a long run (`_whole_unit_normal_level`), so level ``y`` gives the cycle
    service ``mean_j F(y + j)``, ``F`` the cdf of ``family(*params)`` (scipy's Poisson or
    negative binomial, mean `mean`); with ``q = 1`` that is ``F(y)``. Of the smallest level
    reaching `target` and the one below it, the level whose service is nearer the target is
    taken (the higher on a tie). A slow mover's service jumps by several points a unit:
    always rounding up over-delivers by half a jump on average across pairs, while the
    nearer level is the whole-unit rounding of the mix of the two levels that meets the target.

    Returns the level, its service and whether it is the service-level quantile (``ppf``).
    """
    quantile = family.ppf(target, *params)
    high = quantile.copy()
    multi = np.flatnonzero(pack > 1)
    if multi.size:
        # Smallest level reaching the target: in (quantile - q, quantile], since every term of
        # the mean is below the target at quantile - q and at least it at quantile.
        sub = [a[multi] for a in params], [a[multi] for a in shifted], mean[multi]
        q, goal = pack[multi], target[multi]
        up, low = quantile[multi], quantile[multi] - q
        while np.any(up - low > 1):
            move = up - low > 1
            mid = np.floor((low + up) / 2)
            enough = _count_service(family, *sub, q, mid) >= goal - 1e-12
            up = np.where(move & enough, mid, up)
            low = np.where(move & ~enough, mid, low)
        high[multi] = up
    lower = high - 1
    at_high = _count_service(family, params, shifted, mean, pack, high)
    at_lower = _count_service(family, params, shifted, mean, pack, lower)
    nearer = np.abs(at_lower - target) < np.abs(at_high - target)
    level = np.where(nearer, lower, high)
    return level, np.where(nearer, at_lower, at_high), level == quantile


def _count_service(
    family: Any,
    params: list[np.ndarray] | tuple[np.ndarray, ...],
    shifted: list[np.ndarray] | tuple[np.ndarray, ...],
    mean: np.ndarray,
    pack: np.ndarray,
    level: np.ndarray,
) -> np.ndarray:
    """``mean_j F(level + j)`` over ``j = 0 .. q - 1`` for a Poisson / negative binomial ``F``.

    ``sum_{k < m} F(k) = E[(m - D)^+] = m - mean + mean G(m - 2) - m S(m - 1)``, ``S`` the
    survival function of ``family(*params)`` and ``G`` that of ``family(*shifted)``, the law
    with ``k f(k) = mean g(k - 1)`` (the same Poisson; the negative binomial with ``n + 1``):
    four survival functions price a level whatever the pack size.
    """
    out = family.cdf(level, *params)
    multi = pack > 1
    if multi.any():
        p = [a[multi] for a in params]
        g = [a[multi] for a in shifted]
        m, q, y = mean[multi], pack[multi], level[multi]

        def below(k: np.ndarray) -> np.ndarray:  # sum_{i < k} F(i)
            return k - m + m * family.sf(k - 2, *g) - k * family.sf(k - 1, *p)

        out[multi] = (below(y + q) - below(y)) / q
    return out


def _whole_unit_normal_level(
    mean: pd.Series, sigma: pd.Series, pack: np.ndarray, service: pd.Series
) -> np.ndarray:
    """Level ``s`` whose cycle service, over the whole-unit positions an order leaves, is the
    target.

    Positions and demand are whole units. Ordering whole packs of ``q`` up to a level ``s``
    leaves the position on the ``q`` whole numbers from ``ceil(s)``, evenly over a long run
    (the (R, nQ) policy: Hadley & Whitin; Zipkin, "Foundations of Inventory Management", ch.
    6; ``q = 1``: ``ceil(s)``), and a whole position ``k`` serves a cycle's whole-unit demand
    with probability ``Phi((k + 1/2 - D) / sigma_P)`` (the normal with a continuity
    correction). Averaged over the fraction ``ceil(s) - s``, which levels computed afresh
    each night spread evenly, the cycle service is

        (1 / q) integral_0^q Phi((s + v + 1/2 - D) / sigma_P) dv
            = (sigma_P / q) [H(b) - H(a)],  a = (s + 1/2 - D) / sigma_P,  b = a + q / sigma_P,

    ``H(t) = t Phi(t) + phi(t)``, solved for ``s`` in ``[D + z sigma_P - q - 1, D + z sigma_P]``
    by Newton steps kept inside a shrinking bracket: about ``(q + 1) / 2`` units below the
    classic ``D + z sigma_P``, which rounds up to whole units and so over-delivers. With
    ``sigma_P = 0`` the level is ``D``.
    """
    mu, sd = mean.to_numpy(dtype=float), sigma.to_numpy(dtype=float)
    target = service.to_numpy(dtype=float)
    level = mu + stats.norm.ppf(target) * sd
    adjust = sd > 0
    if not adjust.any():
        return level
    mu, sd, q, target = mu[adjust], sd[adjust], pack[adjust], target[adjust]
    high = level[adjust]
    low = high - q - 1.0  # every position is then at most D + z sigma_P - 1/2: below target
    s = high - (q + 1.0) / 2.0
    todo = np.arange(len(s))  # rows still moving
    for _ in range(_NEWTON_STEPS):
        value, slope = _whole_unit_service(s[todo], mu[todo], sd[todo], q[todo])
        enough = value >= target[todo]
        high[todo] = np.where(enough, s[todo], high[todo])
        low[todo] = np.where(enough, low[todo], s[todo])
        # Done at the target, or where the bracket closed (a tiny sigma_P makes the service
        # nearly a step that may step over the target: then its upper end, which reaches it).
        hit = np.abs(value - target[todo]) <= 1e-12
        closed = high[todo] - low[todo] <= 1e-9
        s[todo[closed & ~hit]] = high[todo[closed & ~hit]]
        todo, value, slope = todo[~hit & ~closed], value[~hit & ~closed], slope[~hit & ~closed]
        if not todo.size:
            break
        step = s[todo] - (value - target[todo]) / np.maximum(slope, 1e-300)
        inside = (step >= low[todo]) & (step <= high[todo])
        s[todo] = np.where(inside, step, (low[todo] + high[todo]) / 2)
    level[adjust] = s
    return level


def _whole_unit_service(
    level: np.ndarray, mu: np.ndarray, sd: np.ndarray, q: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cycle service of a normal level over whole-unit positions and demand, and its slope.

    ``(1 / q) integral_0^q Phi((level + v + 1/2 - mu) / sd) dv`` (`_whole_unit_normal_level`)
    from ``H``, an antiderivative of ``Phi``; the slope in `level` is ``(Phi(b) - Phi(a)) / q``.
    """
    a = (level + 0.5 - mu) / sd
    b = (level + q + 0.5 - mu) / sd
    value = sd / q * (_phi_integral(b) - _phi_integral(a))
    slope = (special.ndtr(b) - special.ndtr(a)) / q
    return value, slope


def _phi_integral(t: np.ndarray) -> np.ndarray:
    """``H(t) = t Phi(t) + phi(t)``, an antiderivative of the standard normal cdf."""
    return t * special.ndtr(t) + phi(t)


def _round_quantity(
    raw_need: pd.Series,
    position: pd.Series,
    pack_size: pd.Series,
    moq: pd.Series,
    max_qty: pd.Series,
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Whole packs, at least the MOQ, within the max override.

    Returns the final quantity, the pack-rounded need, the MOQ in whole packs and whether the
    max override lowered the quantity.
    """
    packed = np.ceil(raw_need / pack_size - _EPS).clip(lower=0) * pack_size
    moq_units = np.ceil(moq / pack_size - _EPS) * pack_size
    qty = packed.where(packed <= 0, np.maximum(packed, moq_units))
    room = (np.floor((max_qty - position) / pack_size + _EPS) * pack_size).clip(lower=0)
    capped = max_qty.notna() & (qty > room)
    qty = qty.where(~capped, room)
    # A cap below the MOQ leaves no valid order: ship nothing rather than break the MOQ.
    qty = qty.where(~(capped & (qty < moq_units)), 0)
    return qty.astype("int64"), packed.astype("int64"), moq_units.astype("int64"), capped


def _fmt(value: float) -> str:
    """Planner-friendly number: one decimal, none for whole numbers."""
    text = f"{value:.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


def _pct(level: float) -> str:
    return f"{level * 100:.2f}".rstrip("0").rstrip(".") + "%"


# Columns shown in every reason, pre-formatted in one vectorised pass (20,000 rows stay fast).
_SHOWN = [
    "demand_over_protection", "protection_days", "lead_time_days", "review_period_days",
    "safety_stock", "order_up_to", "inventory_position", "on_hand", "in_transit", "on_order",
]  # fmt: skip


def _fmt_array(values: pd.Series | np.ndarray) -> np.ndarray:
    """`_fmt` over a whole column (NaN shows as 'nan')."""
    rounded = np.round(np.asarray(values, dtype=float), 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    finite = np.isfinite(rounded)
    safe = np.where(finite, rounded, 0.0)
    whole = safe == np.round(safe)
    text = np.where(whole, np.char.mod("%d", safe), np.char.mod("%.1f", safe))
    return np.where(finite, text, "nan")


def _reasons(out: pd.DataFrame, **extra: pd.Series | np.ndarray) -> list[str]:
    """One sentence per row with every number a planner needs to redo the sum by hand."""
    # Plain numpy columns zipped into namedtuples: iterating pandas' Arrow-backed strings row by
    # row is ten times slower.
    work = {k: np.asarray(v) for k, v in extra.items()}
    for name in (
        "suggested_qty",
        "pack_size",
        "service_level",
        "z",
        "demand_class",
        "sigma_over_protection",
        "order_up_to",
        "raw_need",
        "inventory_position",
    ):
        work[name] = out[name].to_numpy(dtype=object if name == "demand_class" else None)
    for name in _SHOWN:
        work[f"{name}_s"] = _fmt_array(out[name])
    work["pct_s"] = out["service_level"].map(_pct).to_numpy(dtype=object)
    row = namedtuple("ReasonRow", list(work))
    return [_reason(r) for r in map(row._make, zip(*work.values(), strict=True))]


def _reason(r) -> str:  # noqa: ANN001 - a namedtuple row of `_reasons`' work frame
    qty, pack = int(r.suggested_qty), int(r.pack_size)
    if r.distribution == NORMAL:
        dist = f"normal, z={r.z:.2f}"
        if r.whole_units:
            dist += f", pack-adjusted for packs of {pack}" if pack > 1 else ", whole units"
    elif r.at_quantile and pack == 1:
        variance = f", variance {_fmt(r.sigma_over_protection**2)}"
        dist = f"{r.distribution} {r.pct_s} quantile" + (
            variance if r.distribution == NEG_BINOMIAL else ""
        )
    else:
        variance = f", variance {_fmt(r.sigma_over_protection**2)}"
        packs = f" over packs of {pack}" if pack > 1 else ""
        dist = (
            f"{r.distribution}{variance if r.distribution == NEG_BINOMIAL else ''}: this whole "
            f"level gives {r.count_service * 100:.1f}%{packs}, the nearest to {r.pct_s}"
        )
    forecast = f"forecast {r.demand_over_protection_s}"
    if r.demand_class == NO_HISTORY:
        forecast += " (no sales history)"
    policy = (
        f"{forecast} over {r.protection_days_s} days "
        f"({r.lead_time_days_s} lead + {r.review_period_days_s} review) "
        f"+ safety stock {r.safety_stock_s} at {r.pct_s} service ({dist})"
    )
    if r.raised_to_min:
        target = (
            f"order-up-to {r.order_up_to_s} (raised to min_qty from "
            f"{_fmt(r.policy_out)} = {policy})"
        )
    else:
        target = f"order-up-to {r.order_up_to_s} = {policy}"
    position = (
        f"position {r.inventory_position_s} = {r.on_hand_s} on hand + "
        f"{r.in_transit_s} in transit + {r.on_order_s} on order"
    )
    if r.backorders > 0:
        position += f" - {_fmt(r.backorders)} backordered"
    if r.credit >= 0.05:
        position += (
            f"; lost-sales credit {_fmt(r.credit)} (lead-time demand beyond the stock on hand "
            "and in transit is lost, not owed, so the order need not cover it)"
        )

    if qty > 0:
        notes = []
        if pack > 1:
            packs = qty // pack
            notes.append(f"{packs} pack{'s' if packs != 1 else ''} of {pack}")
        if r.capped:
            notes.append(
                f"cut from {int(max(r.packed, r.moq_units))} to stay within max {_fmt(r.max_qty)}"
            )
        elif r.moq_units > r.packed:
            notes.append(f"raised to MOQ {int(r.moq_units)} from {int(r.packed)} needed")
        head = f"Order {qty}" + (f" ({', '.join(notes)})" if notes else "")
        sentence = f"{head}: {target}; {position}"
    elif r.raw_need > 0 and r.capped:
        room = max(0.0, math.floor((r.max_qty - r.inventory_position) / pack + _EPS) * pack)
        why = (
            f"room for only {_fmt(room)}, less than the MOQ of {int(r.moq_units)}"
            if room > 0
            else "no room for one more pack"
        )
        sentence = (
            f"No order: {_fmt(r.raw_need)} needed but max {_fmt(r.max_qty)} leaves {why}; "
            f"{target}; {position}"
        )
    elif r.inventory_position < r.order_up_to:  # the lost-sales credit covers the gap
        sentence = f"No order: {target}; {position}"
    else:
        sentence = f"No order: {position} covers {target}"
    if r.is_stale:
        age = f" {_fmt(r.stale_days)} days old" if pd.notna(r.stale_days) else " out of date"
        sentence += f"; based on {str(r.stale_feed).replace('_', '-')} data{age}"
    return sentence + "."
