"""Prefect artifacts for a run: what a planner or operator sees on the flow run page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
TOP_EXCEPTIONS = 25


def summary_markdown(folder: Path, summary: dict, alerts: pd.DataFrame) -> str:
    files = summary["files"]
    by_status: dict[str, int] = {}
    for f in files:
        by_status[f["status"]] = by_status.get(f["status"], 0) + 1
    read = sum(f["rows_read"] for f in files)
    accepted = sum(f["rows_accepted"] for f in files)
    quarantined = sum(f["rows_quarantined"] for f in files)
    lines = [
        f"# VMI run {summary['as_of']}",
        "",
        f"Run `{summary['run_id']}` published to `{folder}`.",
        "",
        "| files | rows read | accepted | quarantined |",
        "|---|---:|---:|---:|",
        f"| {', '.join(f'{n} {s}' for s, n in sorted(by_status.items()))} | {read:,} "
        f"| {accepted:,} | {quarantined:,} |",
        "",
        "| alert | count |",
        "|---|---:|",
        *[f"| {name} | {count:,} |" for name, count in summary["alerts"].items()],
        "",
        "| stage | seconds | rows |",
        "|---|---:|---:|",
        *[f"| {s['name']} | {s['seconds']:.1f} | {s['rows']:,} |" for s in summary["stages"]],
    ]
    rejected = [f for f in files if f["status"] == "rejected"]
    if rejected:
        lines += ["", "Rejected files:", *[f"- `{f['path']}`: {f['reason']}" for f in rejected]]
    return "\n".join(lines)


def top_exceptions(alerts: pd.DataFrame, limit: int = TOP_EXCEPTIONS) -> list[dict]:
    if alerts.empty:
        return []
    ranked = alerts.assign(_rank=alerts["severity"].map(SEVERITY_ORDER).fillna(9))
    ranked = ranked.sort_values(["_rank", "alert_type", "dealer_id", "sku"]).head(limit)
    cols = ["severity", "alert_type", "dealer_id", "sku", "message"]
    return ranked[cols].fillna("").astype(str).to_dict(orient="records")


def publish_artifacts(folder: Path, summary: dict, alerts: pd.DataFrame) -> None:
    """Markdown summary, top exceptions table and a link to report.html."""
    create_markdown_artifact(
        summary_markdown(folder, summary, alerts),
        key="vmi-run-summary",
        description=f"VMI run {summary['as_of']}",
    )
    create_table_artifact(
        top_exceptions(alerts),
        key="vmi-top-exceptions",
        description="Most severe alerts of the run",
    )
    create_link_artifact(
        (Path(folder) / "report.html").resolve().as_uri(),
        link_text="Planner report",
        key="vmi-report",
        description="report.html of the run",
    )
