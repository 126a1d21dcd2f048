"""Closed-loop simulation figures: policy versus the ERP min/max baseline, seeds x targets.

For every seed and target cycle service level it runs `simulation.closed_loop.simulate`
(policy and baseline at the same z), plus the baseline alone over a ladder of safety factors z
(`baseline_curve`, same demand and lead-time draws) to find the stock the baseline needs to
reach the policy's fill rate. Prints a table, then one JSON line per cell and a summary line.

Verdicts per cell (the issue's bar):

* ``csl_ok``: achieved policy cycle service level within 2 points of the target;
* ``stock_ok_same_z``: policy stock value at least 15 % below the baseline run at the same z,
  with a fill rate at least the baseline's;
* ``stock_ok_equal_fill``: policy stock value at least 15 % below what the baseline holds at
  the policy's fill rate (interpolated on its curve; when the baseline never reaches that fill,
  against its top rung, which still fills less).

Usage::

    .venv/bin/python benchmarks/bench_simulation.py [--seeds 1 2 3] [--targets 0.90 0.95 0.98]
        [--weeks 52] [--dealers 5] [--skus 40] [--forecaster ses]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from simulation.closed_loop import baseline_curve, simulate

# Baseline safety factors z: from its own targets (1.28 / 1.64 / 2.05) up to far beyond them,
# as a planner would raise z until the min/max fills as much as the policy.
LADDER = (1.28, 1.64, 2.05, 2.5, 3.0, 3.72, 4.5, 5.5, 6.5, 8.0, 10.0, 13.0)
CSL_TOLERANCE = 0.02
STOCK_CUT = 0.15
KEYS = ("fill_rate", "cycle_service_level", "avg_on_hand_value", "stockout_days")


def baseline_value_at_fill(curve: list[dict], fill: float) -> tuple[float, bool]:
    """Stock value the baseline needs for `fill` (linear between rungs) and whether it gets there.

    The curve is sorted by fill rate; below its lowest rung the lowest rung's value is used
    (the baseline would need at most that), above its top rung the top rung's value (it needs
    more than that, so a comparison against it favours the baseline).
    """
    points = sorted((c["fill_rate"], c["avg_on_hand_value"]) for c in curve)
    fills = np.array([p[0] for p in points])
    values = np.maximum.accumulate(np.array([p[1] for p in points]))
    reached = bool(fill <= fills[-1])
    return float(np.interp(fill, fills, values)), reached


def run_cell(seed: int, target: float, curve: list[dict], args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    result = simulate(
        weeks=args.weeks,
        dealers=args.dealers,
        skus=args.skus,
        seed=seed,
        service_level=target,
        forecaster=args.forecaster,
    )
    seconds = time.perf_counter() - start
    policy, baseline = result["policy"], result["baseline"]
    at_fill, reached = baseline_value_at_fill(curve, policy["fill_rate"])
    cut_same_z = 1.0 - policy["avg_on_hand_value"] / baseline["avg_on_hand_value"]
    cut_equal_fill = 1.0 - policy["avg_on_hand_value"] / at_fill
    return {
        "target": target,
        "seed": seed,
        "forecaster": args.forecaster,
        "series": result["series"],
        "policy": {k: policy[k] for k in KEYS},
        "baseline": {k: baseline[k] for k in KEYS},
        "baseline_value_at_policy_fill": round(at_fill, 2),
        "baseline_reaches_policy_fill": reached,
        "csl_gap": round(policy["cycle_service_level"] - target, 4),
        "stock_cut_same_z": round(cut_same_z, 4),
        "stock_cut_equal_fill": round(cut_equal_fill, 4),
        "csl_ok": abs(policy["cycle_service_level"] - target) <= CSL_TOLERANCE + 1e-9,
        "stock_ok_same_z": bool(
            cut_same_z >= STOCK_CUT and policy["fill_rate"] >= baseline["fill_rate"]
        ),
        "stock_ok_equal_fill": bool(cut_equal_fill >= STOCK_CUT),
        "seconds": round(seconds, 2),
    }


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--targets", type=float, nargs="+", default=[0.90, 0.95, 0.98])
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--dealers", type=int, default=5)
    parser.add_argument("--skus", type=int, default=40)
    parser.add_argument("--forecaster", default="ses")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)

    cells, curves = [], {}
    for seed in args.seeds:
        start = time.perf_counter()
        curves[seed] = baseline_curve(
            LADDER, weeks=args.weeks, dealers=args.dealers, skus=args.skus, seed=seed
        )
        print(
            json.dumps(
                {
                    "baseline_curve": seed,
                    "seconds": round(time.perf_counter() - start, 2),
                    "rungs": [
                        {k: c[k] for k in ("z", "fill_rate", "avg_on_hand_value")}
                        for c in curves[seed]
                    ],
                }
            ),
            flush=True,
        )
        for target in args.targets:
            cells.append(run_cell(seed, target, curves[seed], args))

    header = (
        f"{'target':>6} {'seed':>4} | {'P fill':>6} {'P CSL':>6} {'P value':>9} {'P so-d':>6} | "
        f"{'B fill':>6} {'B CSL':>6} {'B value':>9} {'B so-d':>6} | {'B@Pfill':>9} "
        f"{'cut=z':>6} {'cut=fill':>8} | CSL ok  stock ok (same z / equal fill)"
    )
    print(header)
    print("-" * len(header))
    for c in cells:
        p, b = c["policy"], c["baseline"]
        reached = c["baseline_reaches_policy_fill"]
        print(
            f"{c['target']:>6.2f} {c['seed']:>4} | {p['fill_rate']:>6.3f} "
            f"{p['cycle_service_level']:>6.3f} {p['avg_on_hand_value']:>9,.0f} "
            f"{p['stockout_days']:>6} | {b['fill_rate']:>6.3f} {b['cycle_service_level']:>6.3f} "
            f"{b['avg_on_hand_value']:>9,.0f} {b['stockout_days']:>6} | "
            f"{c['baseline_value_at_policy_fill']:>9,.0f}{'' if reached else '+'} "
            f"{c['stock_cut_same_z']:>6.1%} {c['stock_cut_equal_fill']:>8.1%} | "
            f"{'yes' if c['csl_ok'] else 'NO ':>6}  "
            f"{_yes(c['stock_ok_same_z'])} / {_yes(c['stock_ok_equal_fill'])}"
        )
    print("(B@Pfill: baseline value at the policy's fill; + = not reached, top rung shown)")
    for c in cells:
        print(json.dumps(c))
    print(
        json.dumps(
            {
                "summary": True,
                "forecaster": args.forecaster,
                "cells": len(cells),
                "csl_ok": sum(c["csl_ok"] for c in cells),
                "stock_ok_same_z": sum(c["stock_ok_same_z"] for c in cells),
                "stock_ok_equal_fill": sum(c["stock_ok_equal_fill"] for c in cells),
                "seconds_per_cell": round(float(np.mean([c["seconds"] for c in cells])), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
