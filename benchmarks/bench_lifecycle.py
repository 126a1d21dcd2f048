"""Forecast bias by SKU lifecycle: the nightly forecaster against the generator's true demand.

Builds the closed-loop simulation's world (``sampledata.build_world`` with
``simulation.closed_loop.SIM_START``, 5 dealers x 40 SKUs by default, a 52-week warm-up and 56
loop weeks) and, at an origin every ``--every`` weeks over the loop weeks, forecasts every
carried pair as the nightly run does: its weekly demand from the week it first has demand
(uncensored: the true draws, so stock-outs play no part), ``profiles=`` pooled by
``forecasting.seasonal_profiles`` over ``replenishment.demand.forecast_groups``, then
``forecasting.forecast_with_diagnostics`` (season 52). Each forecast's sum over the next
``--horizon`` weeks (about a protection interval) is compared with the TRUE mean demand of those
weeks; per lifecycle group of ``simulation.breakdown.lifecycle`` (launched, rising, flat,
falling, dying) it prints the bias (sum(forecast) / sum(true mean) - 1) and the WAPE (sum of
|forecast - true mean| / sum(true mean)), summed over origins and pairs, and the models
chosen. Prints a table and one JSON line.

    python -m benchmarks.bench_lifecycle [--seeds 21 25 26] [--horizon 3] [--every 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_censoring import world_groups  # noqa: E402
from forecasting import forecast_with_diagnostics, seasonal_profiles  # noqa: E402
from replenishment.demand import FREQ, SEASON_LENGTH  # noqa: E402
from sampledata import build_world  # noqa: E402
from sampledata.demand import expected_daily_demand  # noqa: E402
from simulation.breakdown import GROUPS, lifecycle  # noqa: E402
from simulation.closed_loop import SETTLE_WEEKS, SIM_START  # noqa: E402

WARMUP_WEEKS, LOOP_WEEKS = 52, 52 + SETTLE_WEEKS
SEASON = {"season_length": SEASON_LENGTH, "freq": FREQ}  # as the nightly run


def world_weeks(seed: int, dealers: int, skus: int) -> dict:
    """Weekly true draws and true means of every carried pair, with ids, groups and lifecycles."""
    weeks = WARMUP_WEEKS + LOOP_WEEKS
    world = build_world(dealers=dealers, skus=skus, days=7 * weeks, start=SIM_START, seed=seed)
    d_idx, s_idx = np.nonzero(world.params.carried)
    n = len(d_idx)
    mean = expected_daily_demand(world.params, world.dates)[d_idx, s_idx, :]
    groups = world_groups(world)  # one row per carried pair, in the order of d_idx, s_idx
    return {
        "ids": groups["unique_id"].to_numpy(),
        "groups": groups,
        "drawn": world.demand[d_idx, s_idx, :].astype(float).reshape(n, weeks, 7).sum(axis=2),
        "mean": mean.reshape(n, weeks, 7).sum(axis=2),
        "week_starts": pd.to_datetime(world.dates[::7]),
        "lifecycle": lifecycle(
            world.params.launch_date[s_idx],
            world.params.decline_start[s_idx],
            world.params.trend_per_year[d_idx, s_idx],
        ),
    }


def run_seed(seed: int, dealers: int, skus: int, horizon: int, every: int) -> dict:
    w = world_weeks(seed, dealers, skus)
    live = w["mean"] > 0
    first = np.where(live.any(axis=1), live.argmax(axis=1), live.shape[1])
    forecast_sum, true_sum, abs_error = (dict.fromkeys(GROUPS, 0.0) for _ in range(3))
    models: dict[str, Counter] = {group: Counter() for group in GROUPS}
    for origin in range(WARMUP_WEEKS + SETTLE_WEEKS, live.shape[1] - horizon + 1, every):
        pair, week = np.nonzero(np.arange(origin)[None, :] >= first[:, None])
        history = pd.DataFrame(
            {
                "unique_id": w["ids"][pair],
                "ds": w["week_starts"][week],
                "y": w["drawn"][pair, week],
                "censored": False,
            }
        )
        profiles = seasonal_profiles(history, groups=w["groups"], **SEASON)
        forecasts, diagnostics = forecast_with_diagnostics(
            history, horizon=horizon, level=95, profiles=profiles, **SEASON
        )
        totals = forecasts.groupby("unique_id")["yhat"].sum()
        planned = totals.reindex(w["ids"]).fillna(0.0).to_numpy()
        chosen = diagnostics.set_index("unique_id")["model"].reindex(w["ids"]).fillna("none")
        truth = w["mean"][:, origin : origin + horizon].sum(axis=1)
        for group in GROUPS:
            members = w["lifecycle"] == group
            forecast_sum[group] += float(planned[members].sum())
            true_sum[group] += float(truth[members].sum())
            abs_error[group] += float(np.abs(planned[members] - truth[members]).sum())
            models[group].update(chosen.to_numpy()[members])
    result = {}
    for group in [*GROUPS, "all"]:
        keys = GROUPS if group == "all" else (group,)
        truth = sum(true_sum[k] for k in keys)
        if truth <= 0:
            continue
        result[group] = {
            "pairs": int(sum((w["lifecycle"] == k).sum() for k in keys)),
            "bias": round(sum(forecast_sum[k] for k in keys) / truth - 1.0, 4),
            "wape": round(sum(abs_error[k] for k in keys) / truth, 4),
        }
        if group != "all":
            result[group]["models"] = dict(models[group].most_common(4))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[21, 25, 26])
    parser.add_argument("--dealers", type=int, default=5)
    parser.add_argument("--skus", type=int, default=40)
    parser.add_argument("--horizon", type=int, default=3, help="weeks summed after each origin")
    parser.add_argument("--every", type=int, default=4, help="weeks between origins")
    args = parser.parse_args(argv)
    worlds = []
    print("seed | " + " | ".join(f"{g:>9} bias  wape" for g in [*GROUPS, "all"]))
    for seed in args.seeds:
        started = time.perf_counter()
        result = run_seed(seed, args.dealers, args.skus, args.horizon, args.every)
        cells = [
            f"{result[g]['bias']:+14.3f} {result[g]['wape']:5.3f}" if g in result else " " * 20
            for g in [*GROUPS, "all"]
        ]
        print(f"{seed:4d} | " + " | ".join(cells), flush=True)
        worlds.append({"seed": seed, "seconds": round(time.perf_counter() - started, 1), **result})
    summary = {"benchmark": "lifecycle", "horizon": args.horizon, "every": args.every}
    print(json.dumps({**summary, "worlds": worlds}))


if __name__ == "__main__":
    main()
