"""The synthetic dealer world: master data, true demand, stock history and feed rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sampledata import catalog, demand, feeds, supply

DEFAULT_END = dt.date(2026, 11, 29)

Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class World:
    """Everything the generator knows; the feeds are what dealers would report of it.

    Attributes
    ----------
    seed : int
        The seed the world was built from.
    dates : numpy.ndarray
        (T,) days of the history, datetime64[D].
    dealers, skus : pandas.DataFrame
        Master columns (``catalog.DEALER_COLUMNS`` / ``SKU_COLUMNS``) plus internal ones.
    dealer_skus : pandas.DataFrame
        The planner overrides (``catalog.DEALER_SKU_COLUMNS``).
    params : demand.DemandParams
        The true demand process (reusable by a simulator).
    demand : numpy.ndarray
        (D, S, T) true daily demand, independent of stock.
    supply : supply.SupplyResult
        Sales, lost sales, returns, end-of-day stock and shipments under the manufacturer's
        historical replenishment.
    sell_through, inventory, shipments : pandas.DataFrame
        The feed rows exactly as written to the landing folder.
    """

    seed: int
    dates: np.ndarray
    dealers: pd.DataFrame
    skus: pd.DataFrame
    dealer_skus: pd.DataFrame
    params: demand.DemandParams
    demand: np.ndarray
    supply: supply.SupplyResult
    sell_through: pd.DataFrame
    inventory: pd.DataFrame
    shipments: pd.DataFrame

    @property
    def start(self) -> dt.date:
        return self.dates[0].astype(dt.date)

    @property
    def end(self) -> dt.date:
        return self.dates[-1].astype(dt.date)

    @property
    def days(self) -> int:
        return len(self.dates)

    def true_demand_frame(self) -> pd.DataFrame:
        """Truth per carried dealer x SKU x day: demand, lost_sales, on_hand_end."""
        d_idx, s_idx = np.nonzero(self.params.carried)
        n_t = self.days
        return pd.DataFrame(
            {
                "dealer_id": np.repeat(self.params.dealer_ids[d_idx], n_t),
                "sku": np.repeat(self.params.skus[s_idx], n_t),
                "date": np.tile(self.dates, len(d_idx)),
                "demand": self.demand[d_idx, s_idx, :].ravel(),
                "lost_sales": self.supply.lost_sales[d_idx, s_idx, :].ravel(),
                "on_hand_end": self.supply.on_hand_end[d_idx, s_idx, :].ravel(),
            }
        )

    def replay_demand(self, dates=None, *, seed: int | None = None) -> np.ndarray:
        """True daily demand (D, S, T) for ``dates`` (default: the history).

        With the defaults this equals ``self.demand``; another seed or date range gives a
        fresh draw of the same process for a closed-loop simulation.
        """
        return demand.true_daily_demand(
            self.params,
            self.dates if dates is None else dates,
            seed=self.seed if seed is None else seed,
        )


def _say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)


def build_world(
    *,
    dealers: int = 20,
    skus: int = 100,
    days: int = 730,
    start: dt.date | None = None,
    seed: int = 7,
    progress: Progress = None,
) -> World:
    """Build a deterministic synthetic dealer world.

    Parameters
    ----------
    dealers, skus, days : int
        Network size and history length (all at least 1).
    start : datetime.date, optional
        First day; by default the history ends on 2026-11-29 (``start = end - days + 1``).
    seed : int
        Same seed, same world (every random stream is ``numpy.random.default_rng([seed, k])``).
    progress : callable, optional
        Called with a short message at each stage; nothing is printed otherwise.

    Returns
    -------
    World
    """
    for name, value in (("dealers", dealers), ("skus", skus), ("days", days)):
        if int(value) < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if start is None:
        start = DEFAULT_END - dt.timedelta(days=days - 1)
    first = np.datetime64(start, "D")
    dates = first + np.arange(days).astype("timedelta64[D]")

    def stream(k: int) -> np.random.Generator:
        return np.random.default_rng([seed, k])

    _say(progress, f"master data: {dealers} dealers, {skus} SKUs")
    rng_catalog = stream(demand.STREAM_CATALOG)
    dealer_frame = catalog.build_dealers(dealers, rng_catalog)
    sku_frame = catalog.build_skus(skus, rng_catalog)

    _say(progress, f"true demand over {days} days")
    params = demand.draw_demand_params(
        dealer_frame, sku_frame, start=first, days=days, rng=stream(demand.STREAM_DEMAND_PARAMS)
    )
    true_demand = demand.true_daily_demand(params, dates, seed=seed)
    yearly_units = true_demand.sum(axis=(0, 2)) * 365.0 / days
    sku_frame = catalog.assign_abc(sku_frame, yearly_units, rng_catalog)
    ending = ~np.isnat(params.decline_start)
    dealer_skus = catalog.build_dealer_skus(
        dealer_frame, sku_frame, params.carried, ending, rng_catalog
    )

    _say(progress, "replenishment, stock and lost sales")
    rng_supply = stream(demand.STREAM_SUPPLY)
    horizon = days + int(supply.protection_days(dealer_frame).max()) + 2
    plan_dates = first + np.arange(horizon).astype("timedelta64[D]")
    # The manufacturer plans from expected demand without promotions, with a per-pair bias.
    bias = rng_supply.lognormal(-0.05, 0.25, params.shape)
    plan = demand.expected_daily_demand(params, plan_dates, promotions=False)
    plan *= bias[:, :, None]
    history = supply.simulate_supply(
        true_demand,
        plan,
        dates=dates,
        dealers=dealer_frame,
        pack_size=sku_frame["pack_size"].to_numpy(),
        moq=sku_frame["moq"].to_numpy(),
        carried=params.carried,
        rng=rng_supply,
    )
    del plan

    _say(progress, "feed rows")
    rng_feeds = stream(demand.STREAM_FEEDS)
    sell_through = feeds.build_sell_through(
        history, dates=dates, dealers=dealer_frame, skus=sku_frame, rng=rng_feeds
    )
    inventory = feeds.build_inventory(
        history, dates=dates, dealers=dealer_frame, skus=sku_frame, carried=params.carried
    )
    shipments = feeds.build_shipments(history, dates=dates, dealers=dealer_frame, skus=sku_frame)
    return World(
        seed=seed,
        dates=dates,
        dealers=dealer_frame,
        skus=sku_frame,
        dealer_skus=dealer_skus,
        params=params,
        demand=true_demand,
        supply=history,
        sell_through=sell_through,
        inventory=inventory,
        shipments=shipments,
    )
