"""The manufacturer's existing replenishment process and the dealers' stock, day by day.

This is the history the pipeline learns from, not the pipeline's own policy. Each dealer is
reviewed on a fixed weekday every ``review_period_days``; for every carried SKU the manufacturer
ships up to a crude target (planned demand over the contract lead time plus the review period,
from a biased plan that ignores promotions, plus a small buffer), rounded up to the pack size
and at least the MOQ. Each shipment takes a random lead time (gamma with the dealer's true mean
and sd). Customers buy ``min(demand, on_hand)``; the rest is lost (no backorders). Now and then
a customer returns a unit on a day without demand; it goes back on the shelf.

Dealers do not share anything here, so each draws from its own stream (``rngs``, one per dealer)
and a network can be simulated a block of dealers at a time with the same result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

RETURN_PROBABILITY = 0.0025  # per pair-day without demand, once the pair has sold something


@dataclass(frozen=True)
class SupplyResult:
    """Daily stock history, (D, S, T) int32 arrays, and the shipment lines.

    ``on_hand_end`` is the stock at the end of each day (after receipts, sales and returns).
    Shipments: ``ship_dealer``, ``ship_sku`` (indexes), ``ship_day`` (index of the ship date),
    ``ship_lead`` (days until receipt; receipt day index ``ship_day + ship_lead`` may lie past
    the history: still in transit), ``ship_qty``. ``first_stock_day`` (D, S) is the first day a
    pair had stock or sales (T when never).
    """

    sales: np.ndarray
    lost_sales: np.ndarray
    returns: np.ndarray
    on_hand_end: np.ndarray
    ship_dealer: np.ndarray
    ship_sku: np.ndarray
    ship_day: np.ndarray
    ship_lead: np.ndarray
    ship_qty: np.ndarray
    first_stock_day: np.ndarray


def protection_days(dealers: pd.DataFrame) -> np.ndarray:
    """Days the manufacturer plans for at a review: contract lead time + review period."""
    return (
        np.ceil(dealers["lead_time_days"].to_numpy()) + dealers["review_period_days"].to_numpy()
    ).astype(int)


def simulate_supply(
    demand: np.ndarray,
    plan: np.ndarray,
    *,
    dates: np.ndarray,
    dealers: pd.DataFrame,
    pack_size: np.ndarray,
    moq: np.ndarray,
    carried: np.ndarray,
    rngs: Sequence[np.random.Generator],
) -> SupplyResult:
    """Run the manufacturer's replenishment and the dealers' sales over the history.

    Parameters
    ----------
    demand : numpy.ndarray
        (D, S, T) true daily demand.
    plan : numpy.ndarray
        (D, S, T + H) the manufacturer's planned daily demand, running at least
        ``max(protection_days) + 1`` days past the history.
    dates : numpy.ndarray
        (T,) days of the history (datetime64[D]).
    dealers : pandas.DataFrame
        Dealer frame from ``catalog.build_dealers``.
    pack_size, moq : numpy.ndarray
        (S,) order multiples and minimum order quantities.
    carried : numpy.ndarray
        (D, S) pairs the dealer sells; nothing is shipped to other pairs.
    rngs : sequence of numpy.random.Generator
        One stream per dealer (buffers, returns, then lead times in date order).

    Returns
    -------
    SupplyResult
    """
    n_d, n_s, n_t = demand.shape
    protection = protection_days(dealers)
    if plan.shape[2] < n_t + protection.max() + 1:
        raise ValueError("plan must run max(protection_days) + 1 days past the history")
    cum_plan = np.concatenate([np.zeros((n_d, n_s, 1)), np.cumsum(plan, axis=2)], axis=2)
    # A crude buffer per pair: some pairs are well covered, others run thin and stock out.
    z = np.zeros((n_d, n_s))
    cover = np.zeros((n_d, n_s))
    return_draw = np.zeros((n_d, n_s, n_t), dtype=bool)
    return_qty = np.zeros((n_d, n_s, n_t), dtype=np.int32)
    for d, rng in enumerate(rngs):
        z[d] = rng.uniform(0.5, 2.0, n_s)
        cover[d] = rng.uniform(0.05, 0.3, n_s)
        return_draw[d] = rng.random((n_s, n_t)) < RETURN_PROBABILITY
        return_qty[d] = np.where(rng.random((n_s, n_t)) < 0.2, 2, 1)
    true_lead = dealers["true_lead_time_days"].to_numpy()
    true_sd = dealers["true_lead_time_sd_days"].to_numpy()
    gamma_shape = (true_lead / true_sd) ** 2
    gamma_scale = true_sd**2 / true_lead
    review_weekday = dealers["review_weekday"].to_numpy()
    review_phase = dealers["review_phase"].to_numpy()
    review_weeks = dealers["review_period_days"].to_numpy() // 7
    day_num = dates.astype("datetime64[D]").astype(np.int64)
    weekday = (day_num + 3) % 7
    week_num = (day_num + 3) // 7

    def target_at(t: int, dd: np.ndarray) -> np.ndarray:
        p = protection[dd]
        planned = cum_plan[dd, :, t + 1 + p] - cum_plan[dd, :, t + 1]
        target = planned * (1.0 + cover[dd]) + z[dd] * np.sqrt(planned)
        # Below a tenth of a unit over the protection interval the SKU is not replenished.
        return np.where((planned >= 0.1) & carried[dd], target, 0.0)

    all_dealers = np.arange(n_d)
    on_hand = np.round(target_at(0, all_dealers)).astype(np.int64)
    in_transit = np.zeros((n_d, n_s), dtype=np.int64)
    arrivals = np.zeros((n_d, n_s, n_t), dtype=np.int64)
    cum_sold = np.zeros((n_d, n_s), dtype=np.int64)
    sales = np.zeros((n_d, n_s, n_t), dtype=np.int32)
    returns = np.zeros((n_d, n_s, n_t), dtype=np.int32)
    on_hand_end = np.zeros((n_d, n_s, n_t), dtype=np.int32)
    shipped: list[tuple[np.ndarray, ...]] = []

    for t in range(n_t):
        on_hand += arrivals[:, :, t]
        in_transit -= arrivals[:, :, t]
        sold = np.minimum(demand[:, :, t], on_hand)
        on_hand -= sold
        # Returns come on days without demand, so a pair-day is either a sale or a return and
        # a lost sale always means an empty shelf at the end of the day.
        returned = np.where(
            return_draw[:, :, t] & (demand[:, :, t] == 0) & (cum_sold > 0), return_qty[:, :, t], 0
        )
        on_hand += returned
        cum_sold += sold
        sales[:, :, t] = sold
        returns[:, :, t] = returned

        due = all_dealers[
            (review_weekday == weekday[t])
            & (week_num[t] % review_weeks == review_phase % review_weeks)
        ]
        if len(due):
            need = target_at(t, due) - (on_hand[due] + in_transit[due])
            rows, cols = np.nonzero(need > 0)
            if len(rows):
                packs = pack_size[cols]
                qty = np.ceil(need[rows, cols] / packs).astype(np.int64) * packs
                qty = np.maximum(qty, moq[cols])
                d_idx = due[rows]
                # rows run dealer by dealer (in the order of `due`): each draws from its own.
                edges = np.searchsorted(rows, np.arange(len(due) + 1))
                lead = np.concatenate(
                    [
                        rngs[d].gamma(gamma_shape[d], gamma_scale[d], edges[i + 1] - edges[i])
                        for i, d in enumerate(due)
                    ]
                )
                lead = np.maximum(1, np.round(lead)).astype(np.int64)
                in_transit[d_idx, cols] += qty
                arrive = t + lead
                inside = arrive < n_t
                np.add.at(arrivals, (d_idx[inside], cols[inside], arrive[inside]), qty[inside])
                shipped.append((d_idx, cols, np.full(len(rows), t), lead, qty))
        on_hand_end[:, :, t] = on_hand

    if shipped:
        ship_dealer, ship_sku, ship_day, ship_lead, ship_qty = (
            np.concatenate(parts) for parts in zip(*shipped, strict=True)
        )
    else:
        ship_dealer = ship_sku = ship_day = ship_lead = ship_qty = np.zeros(0, dtype=np.int64)
    stocked = (on_hand_end > 0) | (sales > 0)
    first_stock = np.where(stocked.any(axis=2), stocked.argmax(axis=2), n_t)
    return SupplyResult(
        sales=sales,
        lost_sales=(demand - sales).astype(np.int32),
        returns=returns,
        on_hand_end=on_hand_end,
        ship_dealer=ship_dealer,
        ship_sku=ship_sku,
        ship_day=ship_day,
        ship_lead=ship_lead,
        ship_qty=ship_qty,
        first_stock_day=first_stock,
    )
