"""A dealer network at scale: generate a world, run the nightly as users do, report each stage.

Runs the product's own commands with their defaults (`vmi generate`, then `vmi run`, each in a
child process under `/usr/bin/time` for its peak RSS) and prints, per world size:

- stage seconds from run_summary.json, rows/s of ingest, series/s of the forecast stage;
- DuckDB's own read of the same landing files (every CSV of a feed in one `read_csv` with all
  columns as text, every Parquet file in one `read_parquet`), measured in the same benchmark
  run, beside the ingest figure: the physical floor the ingest is compared with. Two figures:
  the read into a table (`duckdb_read_seconds`: files to rows in DuckDB, which is the ingest's
  job too, and the kind of read the issue's 2.1 s and 0.3 s were) and a `count(*)` over the
  same reads (`duckdb_count_seconds`: a lower bound; DuckDB skips building the rows, and a
  Parquet count reads only the files' footers);
- a projection for 1,000,000 pairs: the forecast stage's measured CPU cost per series spread
  over N single-core Dask workers (the other stages scale with rows, shown per million rows).

    python -m benchmarks.bench_scale                      # 100 dealers x 200 SKUs (~17k pairs)
    python -m benchmarks.bench_scale --dealers 500        # ~86k pairs
    python -m benchmarks.bench_scale --landing DIR        # reuse a generated landing folder
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VMI = [str(Path(sys.executable).parent / "vmi")]  # the installed console script
FEEDS = ("sell_through", "inventory", "shipments")


def timed(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(seconds, peak RSS in GB, stderr tail) of a child process run under /usr/bin/time."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "PEAK_KB=%M", *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    seconds = time.perf_counter() - started
    peak = [line for line in done.stderr.splitlines() if line.startswith("PEAK_KB=")]
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return seconds, int(peak[-1].split("=")[1]) / 1e6 if peak else float("nan"), done.stderr


def duckdb_read(landing: Path) -> dict:
    """Seconds and rows of DuckDB reading every feed file, strings only, nothing validated:
    into an in-memory table, and as a bare count of the same reads."""
    import duckdb

    figures = {}
    for mode in ("count", "read"):
        con = duckdb.connect()
        seconds, rows = 0.0, 0
        for feed in FEEDS:
            folder = landing / feed
            csvs = sorted(str(p) for p in folder.glob("*.csv"))
            parquets = sorted(str(p) for p in folder.glob("*.parquet"))
            reads = []
            if csvs:
                # The schema given (every column text, the header of the feed's first file), as
                # the ingest knows it: no per-file sniffing.
                with Path(csvs[0]).open(encoding="utf-8") as first:
                    header = first.readline().strip().split(",")
                reads.append((
                    "read_csv(?, header = true, auto_detect = false, delim = ',', quote = '\"', "
                    "columns = ?)",
                    [csvs, {name: "VARCHAR" for name in header}],
                ))  # fmt: skip
            if parquets:
                reads.append(("read_parquet(?, union_by_name = true)", [parquets]))
            for source, parameters in reads:
                started = time.perf_counter()
                if mode == "count":
                    sql = f"select count(*) from (select * from {source})"
                    rows += con.execute(sql, parameters).fetchone()[0]
                else:
                    con.execute(f"create or replace table t as select * from {source}", parameters)
                    rows += con.execute("select count(*) from t").fetchone()[0]
                seconds += time.perf_counter() - started
        con.close()
        figures[f"duckdb_{mode}_seconds"] = round(seconds, 2)
        figures["duckdb_rows"] = rows
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dealers", type=int, default=100)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--landing", type=Path, help="an existing landing folder to reuse")
    parser.add_argument("--tmp", type=Path, help="where to work (default: a temp folder)")
    parser.add_argument("--workers", type=int, nargs="*", default=[8, 32, 128])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vmi-scale-", dir=args.tmp))
    figures: dict = {
        "landing": str(args.landing) if args.landing else "generated",
        "cores": os.cpu_count(),
    }
    try:
        landing = args.landing
        if landing is None:
            landing = work / "landing"
            seconds, peak, _ = timed(
                [*VMI, "generate", "--dealers", str(args.dealers), "--skus", str(args.skus),
                 "--days", str(args.days), "--seed", str(args.seed), "--out", str(landing)]
            )  # fmt: skip
            figures.update(dealers=args.dealers, skus=args.skus, generate_seconds=round(seconds, 1))
            figures["generate_peak_rss_gb"] = round(peak, 2)
        figures["files"] = sum(1 for _ in landing.rglob("*") if _.is_file())
        figures.update(duckdb_read(landing))
        out, warehouse = work / "out", work / "warehouse.duckdb"
        seconds, peak, _ = timed(
            [*VMI, "run", "--landing", str(landing), "--warehouse", str(warehouse),
             "--out", str(out)]
        )  # fmt: skip
        figures.update(run_seconds=round(seconds, 1), run_peak_rss_gb=round(peak, 2))
        summary = json.loads(next((out / "runs").glob("*/run_summary.json")).read_text())
        stages = {stage["name"]: stage for stage in summary["stages"]}
        figures["stages"] = {name: stage["seconds"] for name, stage in stages.items()}
        ingest = stages["ingest_validate"]
        figures["ingest_rows_per_second"] = round(ingest["rows"] / ingest["seconds"])
        for mode in ("read", "count"):
            figures[f"ingest_over_duckdb_{mode}"] = round(
                ingest["seconds"] / figures[f"duckdb_{mode}_seconds"], 1
            )
        forecast = stages["forecast"]
        pairs = forecast["rows"]
        figures["pairs"] = pairs
        figures["forecast_series_per_second"] = round(pairs / forecast["seconds"], 1)
        # CPU-seconds per series: the stage keeps every core busy on its chunks.
        per_series = forecast["seconds"] * (os.cpu_count() or 1) / max(pairs, 1)
        figures["forecast_cpu_seconds_per_series"] = round(per_series, 4)
        figures["projection_1M_pairs_forecast_minutes"] = {
            f"{n}_workers": round(1_000_000 * per_series / n / 60, 1) for n in args.workers
        }
        print(json.dumps(figures), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
