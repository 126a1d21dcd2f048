"""Prefect artifacts for a run: what a planner or operator sees on the flow run page.

Everything is read from the published run folder through `planner.summary`, so the artifacts
show the same counts, stale feeds and exceptions (in the same order) as report.html.
"""

from __future__ import annotations

from pathlib import Path

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from planner.run_folder import REPORT_FILE, read_run_summary
from planner.summary import report_summary_markdown, top_exceptions

TOP_EXCEPTIONS = 25


def publish_artifacts(folder: Path) -> None:
    """Markdown summary, top exceptions table and a link to report.html of a published run."""
    folder = Path(folder)
    as_of = read_run_summary(folder).get("as_of") or folder.name
    create_markdown_artifact(
        report_summary_markdown(folder),
        key="vmi-run-summary",
        description=f"VMI run {as_of}",
    )
    create_table_artifact(
        top_exceptions(folder, TOP_EXCEPTIONS),
        key="vmi-top-exceptions",
        description="Most severe alerts of the run",
    )
    create_link_artifact(
        (folder / REPORT_FILE).resolve().as_uri(),
        link_text="Planner report",
        key="vmi-report",
        description="report.html of the run",
    )
