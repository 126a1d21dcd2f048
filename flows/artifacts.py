"""Prefect artifacts for a run: what a planner or operator sees on the flow run page.

Everything is read from the published run folder through `planner.summary`, so the artifacts
show the same counts, stale feeds and exceptions (in the same order) as report.html, linked at
`$VMI_PUBLIC_URL/runs/<as_of>/report` (the workbench) or else named as a path, never file://.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from planner.run_folder import REPORT_FILE, read_run_summary
from planner.summary import report_summary_markdown, top_exceptions

TOP_EXCEPTIONS = 25


def publish_artifacts(folder: Path) -> None:
    """Markdown summary, top exceptions table and where report.html of a published run is."""
    folder = Path(folder)
    as_of = read_run_summary(folder).get("as_of") or folder.name
    public = os.environ.get("VMI_PUBLIC_URL", "").strip().rstrip("/")
    url = f"{public}/runs/{quote(str(as_of))}/report" if public else None
    create_markdown_artifact(
        report_summary_markdown(folder, report_url=url),
        key="vmi-run-summary",
        description=f"VMI run {as_of}",
    )
    create_table_artifact(
        top_exceptions(folder, TOP_EXCEPTIONS),
        key="vmi-top-exceptions",
        description="Most severe alerts of the run",
    )
    path = f"`{(folder / REPORT_FILE).resolve()}` (VMI_PUBLIC_URL unset: no link)"
    text = f"[Planner report]({url})" if url else f"Planner report: {path}"
    create_markdown_artifact(text, key="vmi-report", description="report.html of the run")
