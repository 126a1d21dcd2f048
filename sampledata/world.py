"""The synthetic dealer world: master data, true demand, stock history and feed rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sampledata import catalog, demand, feeds, supply
from sampledata import network as quirks

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
    price_list, supply_caps : pandas.DataFrame or None
        ``master/price_list.csv`` and ``master/supply.csv`` of a world built with
        ``dealer_network=True`` (sampledata/network.py); None otherwise.
    features : quirks.NetworkFeatures or None
        Who slides and who sells cross-territory in such a world.
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
    price_list: pd.DataFrame | None = None
    supply_caps: pd.DataFrame | None = None
    features: quirks.NetworkFeatures | None = None

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


# Dealers are simulated and written a block at a time: about this many dealer x SKU pairs.
BLOCK_PAIRS = 5000


def dealers_per_block(skus: int) -> int:
    """The default block size: ``BLOCK_PAIRS`` pairs, at least one dealer."""
    return max(1, BLOCK_PAIRS // max(1, skus))


@dataclass(frozen=True)
class Network:
    """What is drawn for the whole network before any dealer is simulated (all (D, S) sized).

    ``skus`` has no ``abc_class`` yet (it needs every dealer's demand: ``finish_master``);
    ``catalog_rng`` is the catalog stream, which those last master draws continue.
    """

    seed: int
    dates: np.ndarray
    dealers: pd.DataFrame
    skus: pd.DataFrame
    params: demand.DemandParams
    catalog_rng: np.random.Generator
    features: quirks.NetworkFeatures | None = None  # dealer_network worlds only


@dataclass(frozen=True)
class Block:
    """A run of dealers ``start`` to ``stop`` (positions in the network) fully simulated.

    Arrays are (B, S, T) and ``supply``'s dealer indexes are positions within the block.
    """

    start: int
    stop: int
    dates: np.ndarray
    dealers: pd.DataFrame
    carried: np.ndarray
    demand: np.ndarray
    supply: supply.SupplyResult
    sell_through: pd.DataFrame
    inventory: pd.DataFrame
    shipments: pd.DataFrame


def draw_network(
    *,
    dealers: int,
    skus: int,
    days: int,
    start: dt.date | None,
    seed: int,
    dealer_network: bool = False,
) -> Network:
    """Master data and demand parameters of the network (see ``build_world``)."""
    for name, value in (("dealers", dealers), ("skus", skus), ("days", days)):
        if int(value) < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if start is None:
        start = DEFAULT_END - dt.timedelta(days=days - 1)
    first = np.datetime64(start, "D")
    dates = first + np.arange(days).astype("timedelta64[D]")
    rng_catalog = np.random.default_rng([seed, demand.STREAM_CATALOG])
    dealer_frame = catalog.build_dealers(dealers, rng_catalog)
    sku_frame = catalog.build_skus(skus, rng_catalog)
    params = demand.draw_demand_params(
        dealer_frame,
        sku_frame,
        start=first,
        days=days,
        rng=np.random.default_rng([seed, demand.STREAM_DEMAND_PARAMS]),
    )
    features = quirks.draw_features(dealer_frame, dates, seed) if dealer_network else None
    return Network(seed, dates, dealer_frame, sku_frame, params, rng_catalog, features)


def _dealer_streams(seed: int, stream: int, start: int, stop: int) -> list[np.random.Generator]:
    return [np.random.default_rng([seed, stream, d]) for d in range(start, stop)]


def iter_blocks(network: Network, per_block: int) -> Iterator[Block]:
    """Simulate the network ``per_block`` dealers at a time, in dealer order.

    True demand comes from ``demand.DemandNoise`` (the very numbers of one whole draw); the
    replenishment history and the feed rows draw from per-dealer streams
    ``default_rng([seed, k, dealer])``, so the blocks give the same world whatever their size.
    """
    params, dates, seed = network.params, network.dates, network.seed
    days = len(dates)
    sku_frame = network.skus
    pack_size, moq = sku_frame["pack_size"].to_numpy(), sku_frame["moq"].to_numpy()
    territories = network.dealers["territory"].to_numpy(dtype=object)
    noise = demand.DemandNoise(params, dates, seed=seed)
    next_shipment = 1
    n_d = len(network.dealers)
    for first in range(0, n_d, per_block):
        stop = min(n_d, first + per_block)
        part = params.for_dealers(slice(first, stop))
        dealer_frame = network.dealers.iloc[first:stop].reset_index(drop=True)
        true_demand = noise.draw(stop)

        rngs = _dealer_streams(seed, demand.STREAM_SUPPLY, first, stop)
        horizon = days + int(supply.protection_days(dealer_frame).max()) + 2
        plan_dates = dates[0] + np.arange(horizon).astype("timedelta64[D]")
        # The manufacturer plans from expected demand without promotions, with a per-pair bias.
        bias = np.stack([rng.lognormal(-0.05, 0.25, len(sku_frame)) for rng in rngs])
        plan = demand.expected_daily_demand(part, plan_dates, promotions=False)
        plan *= bias[:, :, None]
        if network.features is not None:
            quirks.slide_plan(plan, dealer_frame, network.features)
        history = supply.simulate_supply(
            true_demand,
            plan,
            dates=dates,
            dealers=dealer_frame,
            pack_size=pack_size,
            moq=moq,
            carried=part.carried,
            rngs=rngs,
        )
        del plan

        shipments = feeds.build_shipments(
            history, dates=dates, dealers=dealer_frame, skus=sku_frame, first_id=next_shipment
        )
        next_shipment += len(shipments)
        sell_through = feeds.build_sell_through(
            history,
            dates=dates,
            dealers=dealer_frame,
            skus=sku_frame,
            rngs=_dealer_streams(seed, demand.STREAM_FEEDS, first, stop),
            first_dealer=first,
            territories=territories,
        )
        inventory = feeds.build_inventory(
            history, dates=dates, dealers=dealer_frame, skus=sku_frame, carried=part.carried
        )
        if network.features is not None:
            sell_through = quirks.leak_sales(sell_through, network.features, seed)
            inventory = quirks.thin_counts(inventory, network.features, dates)
        yield Block(
            start=first,
            stop=stop,
            dates=dates,
            dealers=dealer_frame,
            carried=part.carried,
            demand=true_demand,
            supply=history,
            sell_through=sell_through,
            inventory=inventory,
            shipments=shipments,
        )


def finish_master(network: Network, demand_per_sku: np.ndarray) -> tuple[pd.DataFrame, ...]:
    """``(skus, dealer_skus)``: ABC classes from the whole history's demand per SKU, overrides.

    ``demand_per_sku`` is the true demand summed over every dealer and day (S,).
    """
    yearly_units = np.asarray(demand_per_sku) * 365.0 / len(network.dates)
    rng = network.catalog_rng
    sku_frame = catalog.assign_abc(network.skus, yearly_units, rng)
    ending = ~np.isnat(network.params.decline_start)
    dealer_skus = catalog.build_dealer_skus(
        network.dealers, sku_frame, network.params.carried, ending, rng
    )
    return sku_frame, dealer_skus


def network_master(
    net: Network, demand_per_sku: np.ndarray
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """``(price_list, supply)`` of a dealer_network world (sampledata/network.py), else Nones."""
    if net.features is None:
        return None, None
    first, last = net.dates[0].astype(dt.date), net.dates[-1].astype(dt.date)
    daily = np.asarray(demand_per_sku, dtype=float) / len(net.dates)
    return (
        quirks.price_list(net.skus, first),
        quirks.supply_caps(net.skus, daily, last, net.seed),
    )


def build_world(
    *,
    dealers: int = 20,
    skus: int = 100,
    days: int = 730,
    start: dt.date | None = None,
    seed: int = 7,
    progress: Progress = None,
    dealer_network: bool = False,
) -> World:
    """Build a deterministic synthetic dealer world in memory (``generate`` streams the same).

    Parameters
    ----------
    dealers, skus, days : int
        Network size and history length (all at least 1).
    start : datetime.date, optional
        First day; by default the history ends on 2026-11-29 (``start = end - days + 1``).
    seed : int
        Same seed, same world: network-wide draws use ``numpy.random.default_rng([seed, k])``,
        per-dealer ones ``default_rng([seed, k, dealer_position])``.
    progress : callable, optional
        Called with a short message at each stage; nothing is printed otherwise.
    dealer_network : bool
        Add a price list, a supply cap, a sliding dealer and a repeat cross-territory seller
        (sampledata/network.py); the other draws stay the same.

    Returns
    -------
    World
    """
    _say(progress, f"master data: {dealers} dealers, {skus} SKUs")
    net = draw_network(
        dealers=dealers, skus=skus, days=days, start=start, seed=seed,
        dealer_network=dealer_network,
    )  # fmt: skip
    _say(progress, f"true demand, replenishment and feed rows over {days} days")
    (block,) = iter_blocks(net, dealers)
    demand_per_sku = block.demand.sum(axis=(0, 2))
    sku_frame, dealer_skus = finish_master(net, demand_per_sku)
    price_list, supply_caps = network_master(net, demand_per_sku)
    return World(
        seed=seed,
        dates=net.dates,
        dealers=net.dealers,
        skus=sku_frame,
        dealer_skus=dealer_skus,
        params=net.params,
        demand=block.demand,
        supply=block.supply,
        sell_through=block.sell_through,
        inventory=block.inventory,
        shipments=block.shipments,
        price_list=price_list,
        supply_caps=supply_caps,
        features=net.features,
    )
