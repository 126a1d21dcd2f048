"""`vmi generate` at network scale: seconds and peak RSS, which must stay flat as dealers grow.

Runs the installed command in a child process under `/usr/bin/time` (peak RSS) into a temporary
folder, prints one JSON line per size and deletes the folder:

    python -m benchmarks.bench_generate          # 100 dealers x 200 SKUs x 730 days (~330 MB)
    python -m benchmarks.bench_generate --big    # also 1,000 x 1,000 (~17 GB on disk, ~30 min)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VMI = [str(Path(sys.executable).parent / "vmi")]  # the installed console script
BYTES_PER_PAIR_DAY = 23  # landing bytes per dealer x SKU x day (measured at 100 x 200)


def run(dealers: int, skus: int, days: int, seed: int, tmp: Path) -> dict:
    need = dealers * skus * days * BYTES_PER_PAIR_DAY * 1.5
    free = shutil.disk_usage(tmp).free
    if free < need:
        raise SystemExit(f"{tmp}: {free / 1e9:.1f} GB free, {need / 1e9:.1f} GB needed")
    work = Path(tempfile.mkdtemp(prefix="vmi-bench-generate-", dir=tmp))
    try:
        out = work / "landing"
        command = [*VMI, "generate", "--out", str(out), "--dealers", str(dealers)]
        command += ["--skus", str(skus), "--days", str(days), "--seed", str(seed)]
        started = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "PEAK_KB=%M", *command], capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
        peak_kb = [line for line in done.stderr.splitlines() if line.startswith("PEAK_KB=")]
        counts = json.loads(done.stdout.splitlines()[-1])
        rows = sum(counts["rows"].values())
        return {
            "benchmark": "generate",
            "dealers": dealers,
            "skus": skus,
            "days": days,
            "seconds": round(seconds, 1),
            "peak_rss_gb": round(int(peak_kb[-1].split("=")[1]) / 1e6, 2),
            "files": sum(counts["files"].values()),
            "rows": rows,
            "rows_per_second": round(rows / seconds),
            "disk_gb": round(sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e9, 2),
            "progress_lines": sum("generated " in line for line in done.stderr.splitlines()),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also 1,000 dealers x 1,000 SKUs")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--tmp", type=Path, default=Path("/tmp"), help="where to write")
    args = parser.parse_args()
    sizes = [(100, 200)] + ([(1000, 1000)] if args.big else [])
    for dealers, skus in sizes:
        print(json.dumps(run(dealers, skus, args.days, args.seed, args.tmp)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
