"""Approve a run and publish what follows from it: the one path of `vmi approve` and the
workbench's Approve button.

`approve_run` writes orders, decisions, approval.json, audit.csv and the warehouse rows; then the
dealer exports are written and report.html is rebuilt so it shows the approved, held and
changed marks.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from planner.approve import ApprovalResult, approve_run
from planner.exports import write_dealer_exports
from planner.report import build_report


def approve_and_publish(
    out_dir: Path,
    as_of: date | str,
    overrides: Path | pd.DataFrame | None,
    *,
    approved_by: str,
    warehouse: Path | None = None,
) -> tuple[ApprovalResult, list[Path]]:
    """`planner.approve.approve_run`, then the dealer exports and report.html.

    Returns the approval and the export files written. Raises what `approve_run` raises;
    nothing is written then.
    """
    result = approve_run(out_dir, as_of, overrides, approved_by=approved_by, warehouse=warehouse)
    exports = write_dealer_exports(result.run_dir)
    build_report(result.run_dir)
    return result, exports


def summary_lines(result: ApprovalResult, exports: list[Path]) -> list[str]:
    """What `vmi approve` prints: lines, changes, holds, units, and where the files are."""
    lines = [
        f"approved {result.lines} lines ({result.changed} changed, {result.held} held, "
        f"{result.units:,.0f} units) by {result.approved_by}; "
        f"{len(result.order_files)} dealer order files in {result.run_dir / 'orders'}"
    ]
    if result.warehouse is not None:
        lines.append(
            f"recorded {result.warehouse_rows} lines in {result.warehouse} (on order from now)"
        )
    lines.append(
        f"dealer exports (CSV + XLSX with stock cover): {len(exports)} files in "
        f"{result.run_dir / 'exports'}"
    )
    return lines
