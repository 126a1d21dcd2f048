"""Closed-loop simulation figures: the policy (production forecaster) versus a tuned min/max.

For every seed and target cycle service level it runs `simulation.closed_loop.simulate` with
the production forecaster by default (the nightly run's `forecasting.forecast_with_diagnostics`
call, daily spreading and policy code, refitted every `REFIT_WEEKS` weeks), then tunes the
min/max baseline on the same demand and lead-time draws by raising its safety factor z until
its fill rate equals the policy's (`baseline_at_fill`, bisection on z), and compares the stock
each holds at that equal fill.

Verdicts per cell (issue 11's bar):

* ``csl_ok``: achieved policy cycle service level within 2 points of the target;
* ``stock_ok``: policy average stock value at least 25 % below the tuned baseline's (a
  baseline that cannot reach the policy's fill even at z = 40 counts as not tuned: its stock
  understates what it would need, and the cell is marked ``baseline_reached`` = false).

Each cell also reports the policy run by SKU lifecycle (``by_lifecycle``,
`simulation.breakdown`): cycle service and forecast bias against the true demand for launched,
rising, flat, falling and dying SKUs, where the misses come from. Unless the forecaster is the
oracle itself, the same world and target are also run with ``forecaster="oracle"`` (the true
mean and spread; a few seconds): its cycle service, overall and per group, is what the policy
maths reaches with a perfect forecast, so ``forecast_cost`` (policy minus oracle) is the part
of a miss that the forecast causes and the oracle's own gap the part the policy causes.

Prints a human table as it goes, then one JSON line per cell (``"cell": true``) and a summary
line (``"summary": true``): the machine-readable output.

Usage::

    .venv/bin/python -m benchmarks.bench_simulation [--seeds 1 2 3 11 12]
        [--targets 0.90 0.95 0.98] [--weeks 52] [--dealers 5] [--skus 40]
        [--forecaster forecasting] [--refit-weeks 1]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from simulation.closed_loop import REFIT_WEEKS, baseline_at_fill, simulate

CSL_TOLERANCE = 0.02
STOCK_CUT = 0.25
KEYS = (
    "fill_rate", "cycle_service_level", "avg_on_hand_value", "stockout_days", "bullwhip_ratio",
    "bullwhip_ratio_sell_through",
)  # fmt: skip
HEADER = (
    f"{'target':>6} {'seed':>4} | {'P fill':>6} {'P CSL':>6} {'CSL gap':>7} {'P value':>9} | "
    f"{'B z':>5} {'B fill':>6} {'B CSL':>6} {'B value':>9} | {'saving':>6} | CSL ok  stock ok"
)


def run_cell(seed: int, target: float, args: argparse.Namespace) -> dict:
    """One seed x target: the policy run and the baseline tuned to its fill rate."""
    world = dict(weeks=args.weeks, dealers=args.dealers, skus=args.skus, seed=seed)
    start = time.perf_counter()
    result = simulate(
        **world,
        service_level=target,
        forecaster=args.forecaster,
        refit_weeks=args.refit_weeks,
        breakdown=True,
    )
    seconds = time.perf_counter() - start
    policy, same_z = result["policy"], result["baseline"]
    oracle = None
    if args.forecaster != "oracle":
        perfect = simulate(**world, service_level=target, forecaster="oracle", breakdown=True)
        oracle = {
            "cycle_service_level": perfect["policy"]["cycle_service_level"],
            "by_lifecycle": {
                group: g["cycle_service_level"]
                for group, g in perfect["policy"]["by_lifecycle"].items()
            },
        }
    tuned = baseline_at_fill(policy["fill_rate"], **world)
    saving = 1.0 - policy["avg_on_hand_value"] / tuned["avg_on_hand_value"]
    return {
        "cell": True,
        "target": target,
        "seed": seed,
        "forecaster": result["forecaster"],
        "refit_weeks": args.refit_weeks,
        "series": result["series"],
        "policy": {k: policy[k] for k in KEYS},
        "baseline_same_z": {"z": result["baseline_z"], **{k: same_z[k] for k in KEYS}},
        "baseline_tuned": {"z": tuned["z"], **{k: tuned[k] for k in KEYS}},
        "baseline_reached": tuned["reached"],
        "csl_gap": round(policy["cycle_service_level"] - target, 4),
        "stock_saving_equal_fill": round(saving, 4),
        "csl_ok": abs(policy["cycle_service_level"] - target) <= CSL_TOLERANCE + 1e-9,
        "stock_ok": bool(tuned["reached"] and saving >= STOCK_CUT),
        "seconds": round(seconds, 1),
        "by_lifecycle": policy["by_lifecycle"],
        "oracle": oracle,
        "forecast_cost": (
            round(policy["cycle_service_level"] - oracle["cycle_service_level"], 4)
            if oracle
            else None
        ),
    }


def table_row(c: dict) -> str:
    p, b = c["policy"], c["baseline_tuned"]
    return (
        f"{c['target']:>6.2f} {c['seed']:>4} | {p['fill_rate']:>6.3f} "
        f"{p['cycle_service_level']:>6.3f} {c['csl_gap']:>+7.3f} {p['avg_on_hand_value']:>9,.0f} | "
        f"{b['z']:>5.2f} {b['fill_rate']:>6.3f} {b['cycle_service_level']:>6.3f} "
        f"{b['avg_on_hand_value']:>9,.0f}{' ' if c['baseline_reached'] else '+'}| "
        f"{c['stock_saving_equal_fill']:>6.1%} | {'yes' if c['csl_ok'] else 'NO':>6}  "
        f"{'yes' if c['stock_ok'] else 'NO'}"
    )


def lifecycle_row(c: dict) -> str:
    """The policy's cycle service and forecast bias (against true demand) per SKU lifecycle,
    with the oracle's cycle service on the same world when it ran."""
    perfect = (c["oracle"] or {}).get("by_lifecycle", {})
    parts = []
    for group, g in c["by_lifecycle"].items():
        if not g["cycles"] or g["forecast_bias"] is None:
            continue
        versus = f"oracle {perfect[group]:.3f}, " if perfect.get(group) is not None else ""
        parts.append(
            f"{group} {g['cycle_service_level']:.3f} ({versus}{g['forecast_bias']:+.1%}, "
            f"{g['cycles']} cycles)"
        )
    head = "    by lifecycle"
    if c["oracle"]:
        head += f" (oracle overall {c['oracle']['cycle_service_level']:.3f})"
    return f"{head}: " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 11, 12])
    parser.add_argument("--targets", type=float, nargs="+", default=[0.90, 0.95, 0.98])
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--dealers", type=int, default=5)
    parser.add_argument("--skus", type=int, default=40)
    parser.add_argument("--forecaster", default="forecasting")
    parser.add_argument("--refit-weeks", type=int, default=REFIT_WEEKS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)

    print(HEADER)
    print("-" * len(HEADER), flush=True)
    cells = []
    for seed in args.seeds:
        for target in args.targets:
            cells.append(run_cell(seed, target, args))
            print(table_row(cells[-1]), flush=True)
            print(lifecycle_row(cells[-1]), flush=True)
    print(
        "P = policy; B = min/max baseline tuned (z raised) to the policy's fill rate; "
        "saving = 1 - P value / B value; + = baseline never reached the policy's fill; "
        "by lifecycle: the policy's cycle service per SKU lifecycle group (the oracle's on the "
        "same world; its demand over the protection interval against the true mean demand, "
        "review cycles)"
    )
    for c in cells:
        print(json.dumps(c))
    gaps = np.array([c["csl_gap"] for c in cells])
    print(
        json.dumps(
            {
                "summary": True,
                "forecaster": args.forecaster,
                "refit_weeks": args.refit_weeks,
                "seeds": args.seeds,
                "targets": args.targets,
                "cells": len(cells),
                "csl_ok": sum(c["csl_ok"] for c in cells),
                "stock_ok": sum(c["stock_ok"] for c in cells),
                "csl_gap_mean": round(float(gaps.mean()), 4),
                "csl_gap_min": round(float(gaps.min()), 4),
                "stock_saving_min": min(c["stock_saving_equal_fill"] for c in cells),
                "forecast_cost_mean": (
                    round(float(np.mean([c["forecast_cost"] for c in cells])), 4)
                    if all(c["forecast_cost"] is not None for c in cells)
                    else None
                ),
                "seconds_per_policy_run": round(float(np.mean([c["seconds"] for c in cells])), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
