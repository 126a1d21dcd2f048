"""Ingest of one large sell-through CSV: time, throughput and peak memory against file size.

Writes a landing folder into a temp directory (never into the repository): master data for
200 dealers x 5,000 SKUs and one sell-through CSV of N rows (about 42 bytes a row, unique keys,
0.1 % rows that break a rule), then ingests it into a fresh DuckDB file in a child process and
reads the child's peak RSS (`resource.getrusage`). The peer, in another child, only reads the
same CSV in the same chunks with pandas (no validation, no writes): the floor any streaming
reader pays. Memory that stays flat while the file grows shows the ingest streams.

Prints one JSON line per size.

    python benchmarks/bench_ingest.py [--rows 1000000 10000000] [--gb 2] [--tmp DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEALERS, SKUS = 200, 5_000
FIRST_DAY = np.datetime64("2024-01-01")
WRITE_BLOCK = 1_000_000
BYTES_PER_ROW = 42  # measured on the generated rows; used to turn --gb into rows


def write_landing(folder: Path, rows: int, seed: int = 0) -> Path:
    """Master files and sell_through/big.csv with `rows` rows; returns the CSV's path."""
    for name in ("master", "sell_through"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    dealer_ids = [f"D{n:04d}" for n in range(1, DEALERS + 1)]
    pd.DataFrame(
        {
            "dealer_id": dealer_ids,
            "dealer_name": [f"Dealer {n}" for n in range(1, DEALERS + 1)],
            "region": "North",
            "territory": [f"T{n:04d}" for n in range(1, DEALERS + 1)],
            "lead_time_days": 7,
            "lead_time_sd_days": 1,
            "review_period_days": 7,
        }
    ).to_csv(folder / "master" / "dealers.csv", index=False)
    pd.DataFrame(
        {
            "sku": [f"SKU{n:05d}" for n in range(1, SKUS + 1)],
            "description": "part",
            "category": "parts",
            "unit_cost": 5.0,
            "pack_size": 1,
            "moq": 1,
        }
    ).to_csv(folder / "master" / "skus.csv", index=False)
    rng = np.random.default_rng(seed)
    path = folder / "sell_through" / "big.csv"
    with path.open("w", newline="") as handle:
        handle.write("dealer_id,sku,date,qty_sold,unit_price,customer_region\n")
        for start in range(0, rows, WRITE_BLOCK):
            # Row i is (dealer, sku, day) = a unique mix of i: no duplicate keys by construction.
            i = np.arange(start, min(start + WRITE_BLOCK, rows), dtype=np.int64)
            dealer = i % DEALERS
            sku = (i // DEALERS) % SKUS
            day = i // (DEALERS * SKUS)
            qty = rng.integers(1, 6, len(i)).astype(str)
            qty[rng.random(len(i)) < 0.001] = "n/a"  # a few rows that must be quarantined
            block = pd.DataFrame(
                {
                    "dealer_id": pd.Series(dealer + 1).map("D{:04d}".format),
                    "sku": pd.Series(sku + 1).map("SKU{:05d}".format),
                    "date": (FIRST_DAY + day.astype("timedelta64[D]")).astype(str),
                    "qty_sold": qty,
                    "unit_price": np.round(rng.uniform(2, 60, len(i)), 2),
                    "customer_region": pd.Series(dealer + 1).map("T{:04d}".format),
                }
            )
            block.to_csv(handle, header=False, index=False)
    return path


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ingest(landing: Path) -> dict:
    from landing.ingest import ingest_landing
    from warehouse import connect

    started = time.perf_counter()
    with connect(landing.parent / "warehouse.duckdb") as con:
        result = ingest_landing(landing, con, run_id="bench", as_of=None)
    seconds = time.perf_counter() - started
    big = next(entry for entry in result.files if entry["path"] == "sell_through/big.csv")
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_rss_mb()),
        "rows_read": big["rows_read"],
        "rows_accepted": big["rows_accepted"],
        "rows_quarantined": big["rows_quarantined"],
        "status": big["status"],
    }


def child_peer(csv: Path) -> dict:
    from landing.readers import CHUNK_ROWS

    started = time.perf_counter()
    rows = 0
    with pd.read_csv(csv, dtype=str, na_filter=False, chunksize=CHUNK_ROWS) as reader:
        for chunk in reader:
            rows += len(chunk)
    return {"seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak_rss_mb())}


def in_child(mode: str, target: Path) -> dict:
    """Run one measurement in a fresh interpreter, so each peak RSS is its own."""
    out = subprocess.run(
        [sys.executable, __file__, f"--child-{mode}", str(target)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(rows: int, tmp: Path, keep: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-ingest-{rows}-", dir=tmp))
    try:
        started = time.perf_counter()
        csv = write_landing(folder / "landing", rows)
        generate_seconds = time.perf_counter() - started
        size = csv.stat().st_size
        peer = in_child("peer", csv)
        ingest = in_child("ingest", folder / "landing")
        warehouse_mb = (folder / "warehouse.duckdb").stat().st_size / 2**20
        return {
            "bench": "ingest_sell_through_csv",
            "rows": rows,
            "file_mb": round(size / 2**20),
            "generate_seconds": round(generate_seconds, 1),
            "ingest_seconds": ingest["seconds"],
            "rows_per_second": round(rows / ingest["seconds"]),
            "mb_per_second": round(size / 2**20 / ingest["seconds"], 1),
            "peak_rss_mb": ingest["peak_rss_mb"],
            "status": ingest["status"],
            "rows_accepted": ingest["rows_accepted"],
            "rows_quarantined": ingest["rows_quarantined"],
            "warehouse_mb": round(warehouse_mb),
            "peer_read_only_seconds": peer["seconds"],
            "peer_read_only_peak_rss_mb": peer["peak_rss_mb"],
            "cpu_count": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 1),
        }
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--gb", type=float, help="also one file of about this many GB")
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--child-ingest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-peer", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_ingest:
        print(json.dumps(child_ingest(args.child_ingest)))
        return
    if args.child_peer:
        print(json.dumps(child_peer(args.child_peer)))
        return
    sizes = list(args.rows)
    if args.gb:
        sizes.append(int(args.gb * 2**30 / BYTES_PER_ROW))
    for rows in sizes:
        print(json.dumps(measure(rows, args.tmp, args.keep)), flush=True)


if __name__ == "__main__":
    main()
