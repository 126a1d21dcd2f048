"""`make bench`: every benchmark at a size that finishes in minutes on a 2-core machine.

Each prints machine-readable JSON lines; run one on its own for the full-size figures
(e.g. `python -m benchmarks.bench_forecast_speed --series 10000 --statsforecast`).
"""

from __future__ import annotations

import subprocess
import sys

QUICK = [
    ["benchmarks.bench_pipeline"],
    ["benchmarks.bench_dbt"],
    ["benchmarks.bench_forecast_speed", "--series", "2000"],
    ["benchmarks.bench_forecast_tourism", "--limit", "100"],
    ["benchmarks.bench_censoring", "--seeds", "1"],
    ["benchmarks.bench_lifecycle", "--seeds", "21"],
    ["benchmarks.bench_simulation", "--seeds", "1"],
    ["benchmarks.bench_ingest", "--rows", "1000000"],
    ["benchmarks.bench_outputs"],
]


def main() -> int:
    failed = 0
    for module, *args in QUICK:
        print(f"# {module} {' '.join(args)}", flush=True)
        failed += subprocess.call([sys.executable, "-m", module, *args]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
