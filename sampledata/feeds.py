"""Turn the simulated history into the feed rows dealers and the manufacturer deliver.

Dealers report what they saw: sell-through rows only for days with a non-zero quantity (sales
positive, returns negative), weekly stock snapshots on Sundays plus one on their last reporting
day, and both feeds end early for the late-reporting dealers. A few sale rows are sold outside
the dealer's territory or at a price far from the usual one.
"""

from __future__ import annotations

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


def build_sell_through(
    supply: SupplyResult,
    *,
    dates: np.ndarray,
    dealers: pd.DataFrame,
    skus: pd.DataFrame,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Sell-through rows per dealer x SKU x day with a non-zero net quantity.

    Sales and returns never fall on the same pair-day (returns happen on days without demand),
    so one row per key holds either a sale (``qty_sold > 0``) or a return (``< 0``).
    """
    n_d, n_s, n_t = supply.sales.shape
    qty = supply.sales - supply.returns  # (D, S, T)
    last_day = n_t - 1 - dealers["sell_through_lag_days"].to_numpy()
    reported = np.arange(n_t)[None, :] <= last_day[:, None]  # (D, T)
    # Walk (dealer, day, sku) so each dealer's rows come out in date order.
    d_idx, t_idx, s_idx = np.nonzero((qty.transpose(0, 2, 1) != 0) & reported[:, :, None])
    q = qty[d_idx, s_idx, t_idx].astype(np.int64)
    n = len(q)

    list_price = skus["list_price"].to_numpy()
    price = np.round(list_price[s_idx] * (1.0 - rng.uniform(0.0, 0.06, n)), 2)
    sale = q > 0
    off_price = (rng.random(n) < OFF_PRICE_SHARE) & sale
    _force_some(off_price, sale, rng)
    factor = np.where(rng.random(n) < 0.5, rng.uniform(0.35, 0.6, n), rng.uniform(1.7, 2.3, n))
    price = np.where(off_price, np.round(list_price[s_idx] * factor, 2), price)
    price = np.where(sale, price, np.round(list_price[s_idx], 2))  # refunds at list price

    territory = dealers["territory"].to_numpy(dtype=object)
    region = territory[d_idx]
    cross = (rng.random(n) < CROSS_TERRITORY_SHARE) & sale
    _force_some(cross, sale, rng)
    if n_d > 1:
        other = (d_idx + rng.integers(1, n_d, n)) % n_d
        region = np.where(cross, territory[other], region)
    else:
        region = np.where(cross, "EX-01", region)

    return pd.DataFrame(
        {
            "dealer_id": dealers["dealer_id"].to_numpy(dtype=object)[d_idx],
            "sku": skus["sku"].to_numpy(dtype=object)[s_idx],
            "date": dates[t_idx],
            "qty_sold": q,
            "unit_price": price,
            "customer_region": region,
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
) -> pd.DataFrame:
    """Shipment lines from the manufacturer; ``received_date`` is NaT while in transit."""
    n_t = len(dates)
    order = np.lexsort((supply.ship_sku, supply.ship_dealer, supply.ship_day))
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
            "shipment_id": [f"SH{i + 1:07d}" for i in range(len(order))],
            "dealer_id": dealers["dealer_id"].to_numpy(dtype=object)[d_idx],
            "sku": skus["sku"].to_numpy(dtype=object)[s_idx],
            "ship_date": ship_date,
            "expected_date": ship_date + promised.astype("timedelta64[D]"),
            "received_date": received.astype("datetime64[D]"),
            "qty": supply.ship_qty[order].astype(np.int64),
        }
    )
