"""`vmi simulate`'s body: check the options, run `simulate`, write the JSON, say what happened.

flows/cli.py only wires the options to `simulate_to_json` and turns its ValueError into the
one-line usage error (exit 2).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from simulation.closed_loop import FORECASTERS, simulate


def simulate_to_json(
    json_path: Path,
    weeks: int,
    dealers: int,
    skus: int,
    seed: int,
    service_level: float,
    forecaster: str,
    baseline_z: str | None,
) -> list[str]:
    """Run `simulate` with the command's options and write its result to `json_path`.

    Parameters
    ----------
    json_path
        Where the result JSON goes (parent folders are created).
    weeks, dealers, skus, seed, service_level, forecaster
        As for `simulation.closed_loop.simulate`.
    baseline_z
        ``--baseline-z`` as typed (a number >= 0), or None for the policy's z.

    Returns
    -------
    list of str
        The lines to print: the run (pairs, weeks, forecaster, baseline z, seconds), then the
        policy's and the baseline's metrics, the bullwhip ratios (`bullwhip_line`), then where
        the JSON went.

    Raises
    ------
    ValueError
        A bad option value, with a one-line message naming the option.
    """
    if not 0.5 < service_level <= 0.9999:
        raise ValueError(f"--service-level: {service_level} is not in (0.5, 0.9999]")
    if forecaster not in FORECASTERS:
        raise ValueError(f"--forecaster: {forecaster!r} is not one of {', '.join(FORECASTERS)}")
    z = None if baseline_z is None else _safety_factor(baseline_z)
    started = time.perf_counter()
    result = simulate(
        weeks=weeks,
        dealers=dealers,
        skus=skus,
        seed=seed,
        service_level=service_level,
        forecaster=forecaster,
        baseline_z=z,
    )
    seconds = time.perf_counter() - started
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"{result['series']} pairs x {weeks} weeks, forecaster {result['forecaster']}, "
        f"baseline z {result['baseline_z']:.2f}, {seconds:.1f} s"
    ]
    for side in ("policy", "baseline"):
        m = result[side]
        lines.append(
            f"{side:8s} fill rate {m['fill_rate']:.3f}"
            f"  cycle service {m['cycle_service_level']:.3f}"
            f"  avg on hand {m['avg_on_hand_units']:.1f} units / {m['avg_on_hand_value']:.0f} value"
            f"  stockout days {m['stockout_days']}"
        )
    lines.append(bullwhip_line(result))
    return [*lines, f"written {json_path}"]


def bullwhip_line(result: dict) -> str:
    """The closing bullwhip note: variance of weekly shipments over variance of weekly
    sell-through, policy against baseline, and by how much the policy damps it."""
    policy = result["policy"].get("bullwhip_ratio_sell_through")
    baseline = result["baseline"].get("bullwhip_ratio_sell_through")
    if policy is None or baseline is None:
        return "bullwhip (shipments / sell-through variance): n/a (sell-through never varies)"
    text = "bullwhip (shipments / sell-through variance): "
    text += f"policy {policy:.2f}, baseline {baseline:.2f}"
    if baseline > 0:
        change = 1 - policy / baseline
        verb = "damps it by" if change >= 0 else "amplifies it by"
        text += f"; the policy {verb} {abs(change):.0%}"
    return text


def _safety_factor(text: str) -> float:
    try:
        z = float(text)
    except ValueError:
        z = math.nan
    if not (math.isfinite(z) and z >= 0):
        raise ValueError(f"--baseline-z: {text!r} is not a number >= 0")
    return z
