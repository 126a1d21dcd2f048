"""The synthetic dealer world behind `vmi generate` and `vmi simulate` (docs/sampledata.md).

`build_world` draws a deterministic network (dealers, SKUs, true demand, the manufacturer's
historical replenishment, stock and lost sales) in memory; `write_landing` writes it as the
landing folder of DESIGN.md; `generate` writes the same files a block of dealers at a time, so
its memory does not grow with the number of dealers.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np

from sampledata.demand import DemandParams, expected_daily_demand, true_daily_demand
from sampledata.landing import LandingWriter, write_landing
from sampledata.world import (
    Progress,
    World,
    _say,
    build_world,
    dealers_per_block,
    draw_network,
    finish_master,
    iter_blocks,
    network_master,
)

__all__ = [
    "DemandParams",
    "World",
    "build_world",
    "expected_daily_demand",
    "generate",
    "true_daily_demand",
    "write_landing",
]


def generate(
    out_dir: str | Path,
    *,
    dealers: int = 20,
    skus: int = 100,
    days: int = 730,
    start: dt.date | None = None,
    seed: int = 7,
    progress: Progress = None,
    per_block: int | None = None,
    dealer_network: bool = False,
) -> dict:
    """Write the landing folder of ``build_world(...)``, streaming (what `vmi generate` runs).

    Dealers are simulated and written ``per_block`` at a time (default: about
    ``world.BLOCK_PAIRS`` dealer x SKU pairs), so memory stays flat as ``dealers`` grows; the
    files are byte-for-byte those of ``write_landing(build_world(...))`` whatever the block.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Landing folder to write.
    dealers, skus, days, start, seed
        As ``build_world``.
    progress : callable, optional
        Called with a short message per stage and one per block of dealers
        (``generated 40/1000 dealers (12 s)``).
    per_block : int, optional
        Dealers per block.
    dealer_network : bool
        Add a price list, a supply cap, a sliding dealer and a repeat cross-territory seller
        (sampledata/network.py); every other file stays byte-identical.

    Returns
    -------
    dict
        ``write_landing``'s counts plus ``start``, ``end`` (ISO dates) and ``seed``.
    """
    began = time.monotonic()
    _say(progress, f"master data: {dealers} dealers, {skus} SKUs")
    network = draw_network(
        dealers=dealers, skus=skus, days=days, start=start, seed=seed,
        dealer_network=dealer_network,
    )  # fmt: skip
    per_block = max(1, per_block or dealers_per_block(skus))
    _say(progress, f"true demand, stock and feeds over {days} days, {per_block} dealers a block")
    demand_per_sku = np.zeros(skus, dtype=np.int64)
    with LandingWriter(out_dir) as writer:
        for block in iter_blocks(network, per_block):
            demand_per_sku += block.demand.sum(axis=(0, 2))
            writer.write_block(block, network.skus)
            seconds = time.monotonic() - began
            _say(progress, f"generated {block.stop}/{dealers} dealers ({seconds:.0f} s)")
        sku_frame, dealer_skus = finish_master(network, demand_per_sku)
        price_list, supply = network_master(network, demand_per_sku)
        _say(progress, f"writing master data to {writer.out_dir / 'master'}")
        writer.write_master(
            network.dealers, sku_frame, dealer_skus, price_list=price_list, supply=supply
        )
    counts = writer.counts
    _say(progress, f"{sum(counts['files'].values())} files written")
    counts.update(
        start=network.dates[0].astype(dt.date).isoformat(),
        end=network.dates[-1].astype(dt.date).isoformat(),
        seed=seed,
    )
    return counts
