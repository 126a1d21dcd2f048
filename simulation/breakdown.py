"""Where a closed-loop policy run reaches its service and where it misses, by SKU lifecycle.

`simulate(..., breakdown=True)` adds ``policy["by_lifecycle"]``: the run's pairs grouped by
what the generator made of their SKU (`lifecycle`), and per group the review cycles, the
cycle service reached, and the policy's demand over the protection interval against the
true mean demand over the same days (``forecast_bias``). It reads the generator's truth, so
it is a diagnostic of the simulation, not something a nightly run could compute.
"""

from __future__ import annotations

import numpy as np

#: Lifecycle groups, in report order.
GROUPS = ("launched", "rising", "flat", "falling", "dying")
#: A steady SKU's yearly trend above this is "rising", below `FALLING_TREND` "falling".
RISING_TREND = 0.10
FALLING_TREND = -0.05


def lifecycle(
    launch_date: np.ndarray, decline_start: np.ndarray, trend_per_year: np.ndarray
) -> np.ndarray:
    """Per pair: ``launched`` (its SKU launches inside the world), ``dying`` (it declines),
    else ``rising`` / ``falling`` / ``flat`` by the pair's yearly trend."""
    steady = np.where(
        trend_per_year > RISING_TREND,
        "rising",
        np.where(trend_per_year < FALLING_TREND, "falling", "flat"),
    )
    launched = ~np.isnat(launch_date)
    dying = ~np.isnat(decline_start)
    return np.where(launched, "launched", np.where(dying, "dying", steady)).astype(object)


#: At each measured review, for its due pairs: the pair indices, the policy's demand over
#: their protection intervals and the true mean demand over the same days.
ReviewLog = list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def by_lifecycle(groups: np.ndarray, short: np.ndarray, live: np.ndarray, log: ReviewLog) -> dict:
    """One entry per group present: ``pairs``, ``cycles`` (live review cycles), ``short_cycles``,
    ``cycle_service_level`` and ``forecast_bias`` (sum of the policy's demand over P / sum of
    the true mean demand over the same days - 1; negative = under-forecast)."""
    columns = [np.concatenate(c) for c in zip(*log, strict=True)] if log else [[], [], []]
    pair, planned, true_mean = (np.asarray(c, dtype=float) for c in columns)
    pair = pair.astype(int)
    out = {}
    for group in GROUPS:
        members = groups == group
        if not members.any():
            continue
        cycles = int(live[members].sum())
        shorts = int(short[members].sum())
        reviewed = members[pair]
        truth = float(true_mean[reviewed].sum())
        out[group] = {
            "pairs": int(members.sum()),
            "cycles": cycles,
            "short_cycles": shorts,
            "cycle_service_level": round(1.0 - shorts / cycles, 4) if cycles else None,
            "forecast_bias": round(float(planned[reviewed].sum()) / truth - 1.0, 4)
            if truth > 0
            else None,
        }
    return out
