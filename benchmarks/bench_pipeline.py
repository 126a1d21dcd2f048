"""Whole nightly run on a generated world: seconds and rows per stage, peak memory.

The peer, in the same process and on the same landing: the identical flow with dbt run as
plain dbt instead of one Prefect task per node (VMI_DBT_NODES_AS_TASKS=0), which shows what
node-level observability costs. Prints one JSON line per variant.

    python -m benchmarks.bench_pipeline [--dealers 20] [--skus 100] [--days 730]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path


def run_variant(landing: Path, work: Path, nodes_as_tasks: bool) -> dict:
    from flows.nightly import nightly_replenishment
    from planner.run_folder import read_run_files

    os.environ["VMI_DBT_NODES_AS_TASKS"] = "1" if nodes_as_tasks else "0"
    warehouse = work / f"wh-{int(nodes_as_tasks)}.duckdb"
    started = time.perf_counter()
    folder = Path(
        nightly_replenishment(
            landing=str(landing),
            warehouse=str(warehouse),
            out=str(work / f"out-{int(nodes_as_tasks)}"),
        )
    )
    wall = time.perf_counter() - started
    summary = json.loads((folder / "run_summary.json").read_text())
    files = read_run_files(folder, summary)  # files.csv when the run has thousands of files
    return {
        "benchmark": "pipeline",
        "dbt_nodes_as_tasks": nodes_as_tasks,
        "flow_wall_seconds": round(wall, 2),
        "stages": {
            s["name"]: {"seconds": s["seconds"], "rows": s["rows"]} for s in summary["stages"]
        },
        "files": len(files),
        "rows_read": sum(f["rows_read"] for f in files),
        "peak_rss_mb_so_far": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dealers", type=int, default=20)
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from flows.prefect_api import prefect_api
    from sampledata import generate

    with tempfile.TemporaryDirectory(prefix="vmi-bench-") as tmp, prefect_api():
        work = Path(tmp)
        started = time.perf_counter()
        counts = generate(
            work / "landing",
            dealers=args.dealers,
            skus=args.skus,
            days=args.days,
            start=None,
            seed=args.seed,
        )
        print(
            json.dumps(
                {
                    "benchmark": "generate",
                    "seconds": round(time.perf_counter() - started, 2),
                    "rows": counts["rows"],
                }
            ),
            flush=True,
        )
        for nodes_as_tasks in (False, True):
            print(json.dumps(run_variant(work / "landing", work, nodes_as_tasks)), flush=True)


if __name__ == "__main__":
    main()
