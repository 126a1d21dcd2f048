"""What a dealer network adds to the world (``dealer_network=True``; docs/sampledata.md).

- a price list (``master/price_list.csv``): each SKU's list price from the first day, 3 % above
  the middle of the dealers' usual discount (sales are priced 0-6 % under the usual price), so
  ordinary sales stay within the 5 % exception floor of fct_sales_exceptions;
- a supply cap (``master/supply.csv``, counted on the last day) on the best-selling SKUs: about
  two days of their network demand, well under what the dealers ask;
- a sliding dealer: from the start of the second-to-last complete calendar quarter, its orders
  balloon (the manufacturer's plan for it is ``SLIDE_PLAN_FACTOR`` times too high, so stock piles
  up and sell-through and turnover fall) and it counts its stock on only one Sunday in three;
  two quarters below benchmark put it in ``warning`` in the last complete quarter;
- a repeat cross-territory seller: ``CROSS_SHARE`` of its sale rows go to customers in a
  neighbour's territory, every month.

Each feature draws from its own stream ``default_rng([seed, STREAM_NETWORK, feature])``, so the
rest of the world (every other draw) is byte-identical with or without them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

STREAM_NETWORK = 5  # after sampledata.demand's streams 0-4
PRICE_LIST, SUPPLY, SLIDE, CROSS = 0, 1, 2, 3  # one stream per feature
PRICE_LIST_FACTOR = 0.97
SUPPLY_SKU_SHARE = 0.1  # share of SKUs capped (at least one)
SUPPLY_DAYS = 2.0  # the cap: this many days of the SKU's expected network demand
SLIDE_PLAN_FACTOR = 15.0
SLIDE_COUNT_EVERY = 3  # the sliding dealer counts one Sunday in this many
CROSS_SHARE = 0.06
PRICE_LIST_COLUMNS = ["sku", "list_price", "valid_from"]
SUPPLY_COLUMNS = ["sku", "available_qty", "as_of"]


@dataclass(frozen=True)
class NetworkFeatures:
    """Who slides (``slide_dealer``, from day index ``slide_start``) and who sells into whose
    territory (``cross_dealer`` into ``cross_territory``); None when the world is too small or
    too short for it."""

    slide_dealer: str | None
    slide_start: int | None
    cross_dealer: str | None
    cross_territory: str | None


def _rng(seed: int, feature: int) -> np.random.Generator:
    return np.random.default_rng([seed, STREAM_NETWORK, feature])


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def slide_quarters(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date] | None:
    """(first quarter below, the quarter the dealer reaches ``warning``): the two last complete
    calendar quarters up to ``last``; None unless a complete quarter precedes them."""
    end = quarter_start(last + dt.timedelta(days=1))  # the quarter after the last complete one
    warned = quarter_start(end - dt.timedelta(days=1))
    below = quarter_start(warned - dt.timedelta(days=1))
    before = quarter_start(below - dt.timedelta(days=1))
    return (below, warned) if before >= first else None


def draw_features(dealers: pd.DataFrame, dates: np.ndarray, seed: int) -> NetworkFeatures:
    """Pick the sliding dealer and the repeat cross-territory seller (on-time dealers only)."""
    n = len(dealers)
    on_time = np.flatnonzero(
        (dealers["sell_through_lag_days"].to_numpy() == 0)
        & (dealers["inventory_lag_days"].to_numpy() == 0)
    )
    first, last = dates[0].astype(dt.date), dates[-1].astype(dt.date)
    quarters = slide_quarters(first, last)
    slide = cross = None
    slide_start = None
    territory = None
    candidates = list(on_time)
    if quarters is not None and candidates:
        slide = int(_rng(seed, SLIDE).choice(candidates))
        slide_start = int((np.datetime64(quarters[0], "D") - dates[0]).astype(int))
        candidates.remove(slide)
    if n >= 2 and candidates:
        rng = _rng(seed, CROSS)
        cross = int(rng.choice(candidates))
        # A neighbour: the next dealer of the same region, else the next dealer.
        region = dealers["region"].to_numpy()
        same = [d for d in range(n) if d != cross and region[d] == region[cross]]
        owner = same[0] if same else (cross + 1) % n
        territory = str(dealers["territory"].iat[owner])
    ids = dealers["dealer_id"].to_numpy(dtype=object)
    return NetworkFeatures(
        None if slide is None else str(ids[slide]),
        slide_start,
        None if cross is None else str(ids[cross]),
        territory,
    )


def slide_plan(plan: np.ndarray, dealers: pd.DataFrame, features: NetworkFeatures) -> None:
    """Inflate the sliding dealer's planned demand from its slide start (in place); ``plan`` is
    (B, S, T + H) for the block's ``dealers``."""
    local = np.flatnonzero(dealers["dealer_id"].to_numpy(dtype=object) == features.slide_dealer)
    for d in local:
        plan[d, :, features.slide_start :] *= SLIDE_PLAN_FACTOR


def thin_counts(
    inventory: pd.DataFrame, features: NetworkFeatures, dates: np.ndarray
) -> pd.DataFrame:
    """Drop the sliding dealer's counts on two Sundays in three from its slide start (its last
    reporting day stays)."""
    dealer_id = features.slide_dealer
    mine = (inventory["dealer_id"] == dealer_id).to_numpy()
    if dealer_id is None or not mine.any():
        return inventory
    start = dates[0] + np.timedelta64(features.slide_start, "D")
    day = inventory["snapshot_date"].to_numpy().astype("datetime64[D]")
    weeks = (day - start).astype(int) // 7
    last = day == day[mine].max()
    drop = mine & (day >= start) & (weeks % SLIDE_COUNT_EVERY != 0) & ~last
    return inventory[~drop].reset_index(drop=True)


def leak_sales(sell_through: pd.DataFrame, features: NetworkFeatures, seed: int) -> pd.DataFrame:
    """Send ``CROSS_SHARE`` of the cross seller's sale rows to its neighbour's territory."""
    rows = np.flatnonzero(
        (sell_through["dealer_id"] == features.cross_dealer).to_numpy()
        & (sell_through["qty_sold"].to_numpy() > 0)
    )
    if features.cross_dealer is None or not len(rows):
        return sell_through
    leaked = rows[_rng(seed, CROSS).random(len(rows)) < CROSS_SHARE]
    out = sell_through.copy()
    out.loc[out.index[leaked], "customer_region"] = features.cross_territory
    return out


def price_list(skus: pd.DataFrame, first: dt.date) -> pd.DataFrame:
    """One list price per SKU from the first day (the price-list stream is kept for later
    price changes; nothing is drawn from it yet)."""
    return pd.DataFrame(
        {
            "sku": skus["sku"].to_numpy(dtype=object),
            "list_price": np.round(skus["list_price"].to_numpy() * PRICE_LIST_FACTOR, 2),
            "valid_from": first.isoformat(),
        }
    )[PRICE_LIST_COLUMNS]


def supply_caps(
    skus: pd.DataFrame, daily_demand_per_sku: np.ndarray, last: dt.date, seed: int
) -> pd.DataFrame:
    """The best-selling SKUs capped at about ``SUPPLY_DAYS`` days of their network demand."""
    n = max(1, int(round(SUPPLY_SKU_SHARE * len(skus))))
    order = np.argsort(-np.asarray(daily_demand_per_sku, dtype=float), kind="stable")[:n]
    jitter = _rng(seed, SUPPLY).uniform(0.8, 1.2, len(order))
    qty = np.floor(np.asarray(daily_demand_per_sku, dtype=float)[order] * SUPPLY_DAYS * jitter)
    return pd.DataFrame(
        {
            "sku": skus["sku"].to_numpy(dtype=object)[np.sort(order)],
            "available_qty": qty[np.argsort(order)].astype(np.int64),
            "as_of": last.isoformat(),
        }
    )[SUPPLY_COLUMNS]
