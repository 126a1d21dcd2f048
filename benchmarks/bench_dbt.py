"""dbt inside the nightly run: plain `dbt build` (the default) against one Prefect task per
dbt node (VMI_DBT_NODES_AS_TASKS=1), on the demo world.

Generates the world with `vmi generate` (defaults: 20 dealers, 100 SKUs, 730 days), then runs
`vmi run` once each way, each on a fresh warehouse, and reads the `dbt_core` and
`dbt_reporting` seconds from the run's run_summary.json. Prints one JSON line per variant and
a side-by-side table.

    python -m benchmarks.bench_dbt [--dealers 20] [--skus 100] [--days 730]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DBT_STAGES = ("dbt_core", "dbt_reporting")
VARIANTS = {"plain dbt (default)": "0", "per-node tasks": "1"}


def vmi(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the `vmi` command of this interpreter; return its stdout (raise on failure)."""
    command = [sys.executable, "-m", "flows.cli", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:1])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def run_variant(landing: Path, work: Path, name: str, flag: str) -> dict:
    env = {**os.environ, "VMI_DBT_NODES_AS_TASKS": flag}
    env.pop("PREFECT_API_URL", None)  # each `vmi run` starts its own temporary API
    warehouse, out = work / f"wh-{flag}.duckdb", work / f"out-{flag}"
    vmi("run", "--landing", str(landing), "--warehouse", str(warehouse), "--out", str(out), env=env)
    (folder,) = (out / "runs").iterdir()
    stages = {s["name"]: s for s in json.loads((folder / "run_summary.json").read_text())["stages"]}
    seconds = {stage: stages[stage]["seconds"] for stage in DBT_STAGES}
    return {
        "benchmark": "dbt",
        "variant": name,
        "VMI_DBT_NODES_AS_TASKS": flag,
        **seconds,
        "dbt_total": round(sum(seconds.values()), 2),
        "dbt_nodes": sum(stages[stage]["rows"] for stage in DBT_STAGES),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dealers", type=int, default=20)
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmi-bench-dbt-") as tmp:
        work = Path(tmp)
        landing = work / "landing"
        size = ["--dealers", str(args.dealers), "--skus", str(args.skus), "--days", str(args.days)]
        vmi("generate", "--out", str(landing), *size)
        results = [run_variant(landing, work, name, flag) for name, flag in VARIANTS.items()]
    for result in results:
        print(json.dumps(result), flush=True)
    print(f"{'stage':<16}" + "".join(f"{r['variant']:>22}" for r in results))
    for stage in (*DBT_STAGES, "dbt_total"):
        print(f"{stage:<16}" + "".join(f"{r[stage]:>21.2f}s" for r in results))
    plain, per_node = results[0]["dbt_total"], results[1]["dbt_total"]
    print(f"per-node / plain: {per_node / plain:.2f}x")


if __name__ == "__main__":
    main()
