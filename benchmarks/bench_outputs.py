"""Output sizes of a 20,000-line run: report.html with every line embedded against the default
(top lines), and the weekly history as plain history.csv against history.csv.gz.

Uses the tests' synthetic run folder (``make_run_folder``: 20 dealers x 1,000 SKUs, 104 weeks).
Printed, never asserted.

    python -m benchmarks.bench_outputs [--dealers 20] [--skus 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "planner"))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dealers", type=int, default=20)
    parser.add_argument("--skus", type=int, default=1000)
    args = parser.parse_args(argv)

    from test_report import make_run_folder

    from planner.report import build_report
    from planner.run_folder import publish_run, read_run_table, table_path

    with tempfile.TemporaryDirectory(prefix="vmi-outputs-") as tmp:
        base = Path(tmp)
        run_dir = make_run_folder(base / "out", dealers=args.dealers, skus=args.skus)
        history = read_run_table(run_dir, "history")
        as_of = date.fromisoformat(run_dir.name)
        started = time.perf_counter()
        plain = publish_run(base / "plain", as_of, "p", {}, {}) / "history.csv"
        history.to_csv(plain, index=False, lineterminator="\r\n")
        plain_seconds = time.perf_counter() - started
        started = time.perf_counter()
        packed = table_path(publish_run(base / "packed", as_of, "p", {"history": history}, {}),
                            "history")  # fmt: skip
        packed_seconds = time.perf_counter() - started
        every = build_report(run_dir, max_lines=None).stat().st_size
        top = build_report(run_dir).stat().st_size
        figures = {
            "benchmark": "outputs",
            "lines": args.dealers * args.skus,
            "report_every_line_mb": round(every / 1e6, 2),
            "report_default_mb": round(top / 1e6, 2),
            "history_csv_mb": round(plain.stat().st_size / 1e6, 1),
            "history_csv_seconds": round(plain_seconds, 1),
            "history_gz_mb": round(packed.stat().st_size / 1e6, 1),
            "history_gz_seconds": round(packed_seconds, 1),
        }
    print(json.dumps(figures), flush=True)
    return figures


if __name__ == "__main__":
    main()
