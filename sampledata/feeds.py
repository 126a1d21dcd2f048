"""Turn the simulated history into the feed rows dealers and the manufacturer deliver.

Dealers report what they saw: sell-through rows only for days with a non-zero quantity (sales
positive, returns negative), weekly stock snapshots on Sundays plus one on their last reporting
day, and both feeds end early for the late-reporting dealers. A few sale rows are sold outside
the dealer's territory or at a price far from the usual one. Each dealer's rows draw from the
dealer's own stream, so a block of dealers gives the same rows as the whole network.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sampledata.supply import SupplyResult

SELL_THROUGH_COLUMNS = ["dealer_id", "sku", "date", "qty_sold", "unit_price", "customer_region"]
INVENTORY_COLUMNS = ["dealer_id", "sku", "snapshot_date", "on_hand"]
SHIPMENT_COLUMNS = [
    "shipment_id",
    "dealer_id",
    "sku",
    "ship_date",
    "expected_date",
    "received_date",
    "qty",
]
CROSS_TERRITORY_SHARE = 0.001
OFF_PRICE_SHARE = 0.0005


def _force_some(flags: np.ndarray, eligible: np.ndarray, rng: np.random.Generator) -> None:
    """Make sure at least one eligible row is flagged, so even tiny worlds show the quirk."""
    if not (flags & eligible).any() and eligible.any():
        flags[rng.choice(np.flatnonzero(eligible))] = True


def _dealer_sell_through(
    qty: np.ndarray,
    *,
    last_day: int,
    dealer: int,
    territories: np.ndarray,
    list_price: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """One dealer's rows in (day, SKU) order: day, SKU, qty, price, customer region."""
    n_t = qty.shape[1]
    reported = np.arange(n_t) <= last_day
    t_idx, s_idx = np.nonzero((qty.T != 0) & reported[:, None])
    q = qty[s_idx, t_idx].astype(np.int64)
    n = len(q)

    price = np.round(list_price[s_idx] * (1.0 - rng.uniform(0.0, 0.06, n)), 2)
    sale = q > 0
    force = dealer == 0  # the first dealer shows each quirk at least once
    off_price = (rng.random(n) < OFF_PRICE_SHARE) & sale
    if force:
        _force_some(off_price, sale, rng)
    factor = np.where(rng.random(n) < 0.5, rng.uniform(0.35, 0.6, n), rng.uniform(1.7, 2.3, n))
    price = np.where(off_price, np.round(list_price[s_idx] * factor, 2), price)
    price = np.where(sale, price, np.round(list_price[s_idx], 2))  # refunds at list price

    n_d = len(territories)
    region = np.full(n, territories[dealer], dtype=object)
    cross = (rng.random(n) < CROSS_TERRITORY_SHARE) & sale
    if force:
        _force_some(cross, sale, rng)
    if n_d > 1:
        other = (dealer + rng.integers(1, n_d, n)) % n_d
        region = np.where(cross, territories[other], region)
    else:
        region = np.where(cross, "EX-01", region)
    return t_idx, s_idx, q, price, region


def build_sell_through(
    supply: SupplyResult,
    *,
    dates: np.ndarray,
    dealers: pd.DataFrame,
    skus: pd.DataFrame,
    rngs: Sequence[np.random.Generator],
    first_dealer: int = 0,
    territories: np.ndarray | None = None,
) -> pd.DataFrame:
    """Sell-through rows per dealer x SKU x day with a non-zero net quantity.

    Sales and returns never fall on the same pair-day (returns happen on days without demand),
    so one row per key holds either a sale (``qty_sold > 0``) or a return (``< 0``). ``dealers``
    may be a block of the network starting at position ``first_dealer``; ``territories`` are
    the whole network's (default: the block's); ``rngs`` holds one stream per block dealer.
    """
    n_t = supply.sales.shape[2]
    qty = supply.sales - supply.returns  # (D, S, T)
    last_day = n_t - 1 - dealers["sell_through_lag_days"].to_numpy()
    if territories is None:
        territories = dealers["territory"].to_numpy(dtype=object)
    list_price = skus["list_price"].to_numpy()
    # Dealer by dealer, each dealer's rows in date order.
    parts = [
        _dealer_sell_through(
            qty[d],
            last_day=int(last_day[d]),
            dealer=first_dealer + d,
            territories=territories,
            list_price=list_price,
            rng=rng,
        )
        for d, rng in enumerate(rngs)
    ]
    t_idx, s_idx, q, price, region = (np.concatenate(cols) for cols in zip(*parts, strict=True))
    d_idx = np.repeat(np.arange(len(parts)), [len(part[0]) for part in parts])
    return pd.DataFrame(
        {
            "dealer_id": dealers["dealer_id"].to_numpy(dtype=object)[d_idx],
            "sku": skus["sku"].to_numpy(dtype=object)[s_idx],
            "date": dates[t_idx],
            "qty_sold": q,
            "unit_price": price,
            "customer_region": region.astype(object),
        }
    )


def build_inventory(
    supply: SupplyResult,
    *,
    dates: np.ndarray,
    dealers: pd.DataFrame,
    skus: pd.DataFrame,
    carried: np.ndarray,
) -> pd.DataFrame:
    """Stock snapshots: Sundays plus the dealer's last reporting day, per stocked pair."""
    n_d, n_s, n_t = supply.on_hand_end.shape
    weekday = (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7
    sundays = np.flatnonzero(weekday == 6)
    last_day = n_t - 1 - dealers["inventory_lag_days"].to_numpy()
    sku_ids = skus["sku"].to_numpy(dtype=object)
    frames = []
    for d in range(n_d):
        if last_day[d] < 0:
            continue
        days = np.union1d(sundays[sundays <= last_day[d]], [last_day[d]])
        # A pair is reported from the first day it had stock (new SKUs appear on launch).
        show = carried[d][None, :] & (days[:, None] >= supply.first_stock_day[d][None, :])
        t_pos, s_idx = np.nonzero(show)
        t_idx = days[t_pos]
        frames.append(
            pd.DataFrame(
                {
                    "dealer_id": dealers["dealer_id"].iat[d],
                    "sku": sku_ids[s_idx],
                    "snapshot_date": dates[t_idx],
                    "on_hand": supply.on_hand_end[d, s_idx, t_idx].astype(np.int64),
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: [] for c in INVENTORY_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def build_shipments(
    supply: SupplyResult,
    *,
    dates: np.ndarray,
    dealers: pd.DataFrame,
    skus: pd.DataFrame,
    first_id: int = 1,
) -> pd.DataFrame:
    """Shipment lines, dealer by dealer in ship-date order, numbered from ``first_id``.

    ``received_date`` is NaT while in transit.
    """
    n_t = len(dates)
    order = np.lexsort((supply.ship_sku, supply.ship_day, supply.ship_dealer))
    d_idx = supply.ship_dealer[order]
    s_idx = supply.ship_sku[order]
    day = supply.ship_day[order]
    lead = supply.ship_lead[order]
    start = dates[0].astype("datetime64[D]")
    ship_date = start + day.astype("timedelta64[D]")
    promised = np.round(dealers["lead_time_days"].to_numpy()[d_idx]).astype(int)
    received = np.where(
        day + lead < n_t, ship_date + lead.astype("timedelta64[D]"), np.datetime64("NaT", "D")
    )
    return pd.DataFrame(
        {
            "shipment_id": [f"SH{first_id + i:07d}" for i in range(len(order))],
            "dealer_id": dealers["dealer_id"].to_numpy(dtype=object)[d_idx],
            "sku": skus["sku"].to_numpy(dtype=object)[s_idx],
            "ship_date": ship_date,
            "expected_date": ship_date + promised.astype("timedelta64[D]"),
            "received_date": received.astype("datetime64[D]"),
            "qty": supply.ship_qty[order].astype(np.int64),
        }
    )
