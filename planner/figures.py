"""Figures of one run that both the review page and the markdown summary show.

The header counts, data freshness with its stale feeds, the exceptions in the order a planner
works them, and the number formats. Everything is computed from the run folder
(`planner.run_folder`); nothing here renders HTML or markdown.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from planner.run_folder import SEVERITIES, read_run_table, severity_rank


def run_header(
    folder: Path, summary: dict[str, Any], lines: pd.DataFrame, alerts: pd.DataFrame
) -> dict[str, Any]:
    """Run id, as-of, file and row counts, line and order totals, alerts per severity, stages.

    Parameters
    ----------
    folder : Path
        The run folder.
    summary : dict
        Its ``run_summary.json`` (may be empty).
    lines : pandas.DataFrame
        `planner.run_folder.lines_with_items` of the folder.
    alerts : pandas.DataFrame
        Its ``alerts.csv``.
    """
    quarantine = read_run_table(folder, "quarantine")
    files = summary.get("files") or []
    status_counts: dict[str, int] = {}
    for entry in files:
        status = str(entry.get("status", "unknown"))
        status_counts[status] = status_counts.get(status, 0) + 1
    quarantined = len(quarantine)
    if not quarantined and files:
        quarantined = int(sum(int(entry.get("rows_quarantined") or 0) for entry in files))
    run_id = summary.get("run_id") or (lines["run_id"].iloc[0] if len(lines) else "")
    as_of = summary.get("as_of") or (lines["as_of"].iloc[0] if len(lines) else Path(folder).name)
    ordered = lines["suggested_qty"].fillna(0) > 0
    return {
        "run_id": run_id,
        "as_of": as_of,
        "files": status_counts,
        "files_total": len(files),
        "rows_read": int(sum(int(entry.get("rows_read") or 0) for entry in files)),
        "rows_accepted": int(sum(int(entry.get("rows_accepted") or 0) for entry in files)),
        "rejected": [entry for entry in files if entry.get("status") == "rejected"],
        "quarantined": quarantined,
        "lines": len(lines),
        "lines_ordered": int(ordered.sum()),
        "units": float(lines.loc[ordered, "suggested_qty"].sum()),
        "value": float(lines["value"].sum()),
        "missing_cost": int((ordered & lines["unit_cost"].isna()).sum()),
        "alerts": {s: int((alerts["severity"] == s).sum()) for s in SEVERITIES},
        "stages": summary.get("stages") or [],
    }


def freshness_rows(folder: Path, lines: pd.DataFrame, alerts: pd.DataFrame) -> list[dict]:
    """Per dealer and feed, with stale ones (a `stale_feed` alert in this run) flagged.

    The alert is the single source of truth for staleness, so the page agrees with the
    thresholds the policy configuration applied.
    """
    freshness = read_run_table(folder, "freshness")
    stale = alerts.loc[alerts["alert_type"] == "stale_feed", "dealer_id"]
    stale_dealers = set(stale.astype(str))
    names = dict(zip(lines["dealer_id"], lines["dealer_name"], strict=False))
    return [
        {
            "dealer_id": rec.dealer_id,
            "dealer_name": names.get(rec.dealer_id, ""),
            "feed": rec.feed,
            "last_report_date": rec.last_report_date,
            "days_since_report": rec.days_since_report,
            "stale": rec.dealer_id in stale_dealers,
        }
        for rec in freshness.sort_values(["dealer_id", "feed"]).itertuples(index=False)
    ]


def exceptions_frame(lines: pd.DataFrame, alerts: pd.DataFrame) -> pd.DataFrame:
    """Alerts joined with their line, sorted by severity, then order value, then stock value.

    Alerts about a whole dealer or a whole file (empty ``sku``) sort by the value of all the
    dealer's suggested lines, so a stale feed at a big dealer comes before one at a small one.
    """
    if alerts.empty:
        return alerts.assign(value=[], stock_value=[], rank=[])
    columns = ["dealer_id", "sku", "dealer_name", "description", "value", "stock_value"]
    pair = alerts.merge(lines[columns], on=["dealer_id", "sku"], how="left")
    dealer_value = lines.groupby("dealer_id")["value"].sum()
    dealer_level = pair["sku"].eq("")
    if dealer_level.any():
        pair.loc[dealer_level, "value"] = (
            pair.loc[dealer_level, "dealer_id"].map(dealer_value).astype(float)
        )
    names = lines.drop_duplicates("dealer_id").set_index("dealer_id")["dealer_name"]
    pair["dealer_name"] = pair["dealer_name"].fillna(pair["dealer_id"].map(names)).fillna("")
    pair["description"] = pair["description"].fillna("")
    pair["value"] = pair["value"].fillna(0.0)
    pair["stock_value"] = pair["stock_value"].fillna(0.0)
    pair["rank"] = severity_rank(pair["severity"])
    return pair.sort_values(
        ["rank", "value", "stock_value"], ascending=[True, False, False], kind="stable"
    ).reset_index(drop=True)


def number(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or not a number."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(result) else result


def format_qty(value: Any) -> str:
    """Whole numbers with thousands separators, others with one decimal; blank when missing."""
    result = number(value)
    if result is None:
        return ""
    return f"{result:,.0f}" if float(result).is_integer() else f"{result:,.1f}"


def format_money(value: Any) -> str:
    result = number(value)
    return "" if result is None else f"{result:,.0f}"


def format_pct(value: Any) -> str:
    """A share (0.25) as a whole percentage (25%)."""
    result = number(value)
    return "" if result is None else f"{100 * result:.0f}%"
