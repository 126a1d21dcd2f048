"""The synthetic dealer world behind `vmi generate` and `vmi simulate` (docs/sampledata.md).

`build_world` draws a deterministic network (dealers, SKUs, true demand, the manufacturer's
historical replenishment, stock and lost sales); `write_landing` writes it as the landing
folder of DESIGN.md; `generate` does both.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sampledata.demand import DemandParams, expected_daily_demand, true_daily_demand
from sampledata.landing import write_landing
from sampledata.world import Progress, World, build_world

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
) -> dict:
    """Build a world and write its landing folder (what `vmi generate` runs).

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Landing folder to write.
    dealers, skus, days, start, seed
        As ``build_world``.
    progress : callable, optional
        Called with a short message per stage.

    Returns
    -------
    dict
        ``write_landing``'s counts plus ``start``, ``end`` (ISO dates) and ``seed``.
    """
    world = build_world(
        dealers=dealers, skus=skus, days=days, start=start, seed=seed, progress=progress
    )
    counts = write_landing(world, Path(out_dir), progress=progress)
    counts.update(start=world.start.isoformat(), end=world.end.isoformat(), seed=seed)
    return counts
