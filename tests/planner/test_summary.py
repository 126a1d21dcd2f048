"""The markdown summary of a run (the Prefect artifact): what a planner needs before the page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from test_report import make_run_folder

from planner.report import build_report
from planner.summary import report_summary_markdown, top_exceptions


def test_summary_counts_stale_feeds_rejected_files_and_link(tmp_path: Path) -> None:
    run_dir = make_run_folder(tmp_path / "out")
    text = report_summary_markdown(run_dir)
    assert "Review page" not in text  # no report.html yet
    # Files and rows from run_summary.json (3 accepted + partial + rejected + duplicate).
    assert "| 3 accepted, 1 duplicate, 1 partial, 1 rejected | 350 | 348 | 2 |" in text
    # The stale dealer of the fixture (a stale_feed alert), with both its feeds.
    stale = text[text.index("## Stale feeds") : text.index("## Top")]
    assert "| D002 Dealer 2 | sell_through | " in stale
    assert "| D002 Dealer 2 | inventory | " in stale
    assert "D001" not in stale and "D003" not in stale
    assert "- `landing/sell_through/broken.csv`: missing column" in text
    assert "| forecast | 12.0 | 30 |" in text

    build_report(run_dir)
    path = (run_dir / "report.html").resolve()
    assert f"Review page: `{path}`" in report_summary_markdown(run_dir)  # text, no file:// link
    url = "https://vmi.example.com/runs/2025-06-30/report"
    assert f"Review page: [report.html]({url})" in report_summary_markdown(run_dir, report_url=url)


def test_top_exceptions_follow_the_page_order(tmp_path: Path) -> None:
    run_dir = make_run_folder(tmp_path / "out")
    alerts = pd.read_csv(run_dir / "alerts.csv", dtype=str, keep_default_na=False)
    rows = top_exceptions(run_dir, limit=len(alerts))
    assert len(rows) == len(alerts)
    ranks = [{"critical": 0, "warning": 1, "info": 2}[r["severity"]] for r in rows]
    assert ranks == sorted(ranks)
    assert set(rows[0]) == {
        "severity", "alert_type", "dealer_id", "dealer_name", "sku", "value", "message",
    }  # fmt: skip
    assert len(top_exceptions(run_dir, limit=3)) == 3


def test_pipes_in_messages_do_not_break_the_table(tmp_path: Path) -> None:
    run_dir = make_run_folder(tmp_path / "out")
    alerts = pd.read_csv(run_dir / "alerts.csv", dtype=str, keep_default_na=False)
    alerts.loc[0, "message"] = "a | b"
    alerts.to_csv(run_dir / "alerts.csv", index=False)
    assert "a \\| b" in report_summary_markdown(run_dir, max_rows=len(alerts))


def test_since_last_run_lists_the_largest_changes_by_value(tmp_path: Path) -> None:
    make_run_folder(tmp_path / "out", "2025-06-23", seed=3)
    current = make_run_folder(tmp_path / "out", "2025-06-30", seed=7)
    build_report(current)  # writes changes.csv
    text = report_summary_markdown(current, max_changes=3)
    section = text[text.index("## Since last run") : text.index("## Stages")]
    changes = pd.read_csv(current / "changes.csv", keep_default_na=False)
    moved = pd.to_numeric(changes.loc[changes.change_type == "qty_changed", "value"]).sum()
    assert f"value moved {moved:,.0f}" in section
    rows = [r for r in section.splitlines() if r.startswith("| ") and "---" not in r][1:]
    assert len(rows) == 3
    top = pd.to_numeric(changes["value"], errors="coerce").nlargest(3)
    assert [r.split(" | ")[5] for r in rows] == [f"{v:,.0f}" for v in top]
