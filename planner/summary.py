"""A run in markdown, for the Prefect flow-run page (flows/artifacts.py) or a message.

What a planner needs before opening the review page: the counts (files, rows, lines, orders,
alerts), the stale feeds, the top exceptions in the page's order, rejected files, what changed
since the last run, the stage timings, and a link to ``report.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from planner.figures import (
    exceptions_frame,
    format_money,
    format_qty,
    freshness_rows,
    run_header,
)
from planner.run_folder import (
    REPORT_FILE,
    SEVERITIES,
    lines_with_items,
    read_run_summary,
    read_run_table,
    table_path,
)

EXCEPTION_COLUMNS = [
    "severity", "alert_type", "dealer_id", "dealer_name", "sku", "value", "message",
]  # fmt: skip


def _cell(value: Any) -> str:
    """Text safe inside a markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def top_exceptions(run_dir: Path, limit: int = 20) -> list[dict[str, str]]:
    """The ``limit`` most important alerts (most severe, then highest order value) as text rows.

    Returns
    -------
    list of dict
        ``EXCEPTION_COLUMNS`` per alert; ``value`` is the order value of its line (or of the
        dealer's lines for a dealer-wide alert), formatted.
    """
    lines = lines_with_items(run_dir)
    top = exceptions_frame(lines, read_run_table(run_dir, "alerts")).head(limit)
    return [
        {**{c: str(rec[c]) for c in EXCEPTION_COLUMNS}, "value": format_money(rec["value"])}
        for rec in top.to_dict("records")
    ]


def _since_last_run(changes: pd.DataFrame, limit: int) -> list[str]:
    """Counts per change type and the ``limit`` largest changes by value (changes.csv)."""
    counts = changes["change_type"].value_counts()
    value = pd.to_numeric(
        changes["value"] if "value" in changes else pd.Series(float("nan"), index=changes.index),
        errors="coerce",
    )
    moved = value[changes["change_type"] == "qty_changed"].fillna(0).sum()
    out = [
        "",
        "## Since last run",
        "",
        ", ".join(
            f"{kind}: {int(counts.get(kind, 0))}"
            for kind in ("alert_new", "alert_cleared", "qty_changed")
        )
        + f"; value moved {format_money(moved)}",
    ]
    if limit <= 0 or changes.empty:
        return out
    top = changes.assign(value=value).sort_values("value", ascending=False, na_position="last")
    out += [
        "",
        "| change | dealer | sku | previous qty | current qty | value | why |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for rec in top.head(limit).itertuples(index=False):
        out.append(
            f"| {_cell(rec.change_type)} | {_cell(rec.dealer_id)} | {_cell(rec.sku)} "
            f"| {format_qty(rec.previous_qty)} | {format_qty(rec.current_qty)} "
            f"| {format_money(rec.value)} | {_cell(rec.detail)} |"
        )
    return out


def _dealer_management(run_dir: Path) -> list[str]:
    """Excess-stock actions by remedy (actions.csv) and the tier changes proposed
    (tier_proposals.csv); nothing when the run has neither."""
    out = []
    actions = read_run_table(run_dir, "actions")
    if len(actions):
        out += ["", "## Excess-stock actions", "", "| action | lines | units | value | cost |"]
        out.append("|---|---:|---:|---:|---:|")
        for action, rows in actions.groupby("action"):
            out.append(
                f"| {_cell(action)} | {len(rows):,} | {format_qty(rows['qty'].sum())} "
                f"| {format_money(rows['value'].sum())} | {format_money(rows['cost'].sum())} |"
            )
    tiers = read_run_table(run_dir, "tier_proposals")
    moves = tiers[tiers["current_tier"] != tiers["proposed_tier"]]
    if len(tiers):
        out += ["", f"## Dealer tiers: {len(moves)} change(s) proposed", ""]
        out += [f"- {_cell(r.dealer_id)}: {_cell(r.reason)}" for r in moves.itertuples()]
    return out


def report_summary_markdown(
    run_dir: Path, *, max_rows: int = 20, max_changes: int = 5, report_url: str | None = None
) -> str:
    """A markdown summary of one run folder, for a Prefect markdown artifact.

    Parameters
    ----------
    run_dir : Path
        A published run folder.
    max_rows : int
        How many exceptions (most severe, then highest value first) to list.
    max_changes : int
        How many changes since the last run (largest value first) to list.
    report_url : str, optional
        Where ``report.html`` is served (the workbench); without it the page's path is given
        as text (a ``file://`` link does nothing in the Prefect UI).

    Returns
    -------
    str
        Markdown: run header figures and where ``report.html`` is (when built), files and
        rows, alert counts by severity and by type, stale feeds, the top exceptions, rejected
        files, the since-last-run counts and largest changes (when ``changes.csv`` exists),
        the excess-stock actions by remedy and the tier changes proposed, and the stage
        timings.
    """
    run_dir = Path(run_dir)
    summary = read_run_summary(run_dir)
    lines = lines_with_items(run_dir)
    alerts = read_run_table(run_dir, "alerts")
    head = run_header(run_dir, summary, lines, alerts)
    out = [
        f"# VMI run {head['as_of']}",
        "",
        f"Run `{head['run_id']}`: {head['lines']:,} lines, {head['lines_ordered']:,} with an "
        f"order, {format_qty(head['units'])} units worth {format_money(head['value'])}; "
        f"{head['quarantined']:,} rows quarantined.",
        "",
    ]
    report = run_dir / REPORT_FILE
    if report.exists():
        where = f"[{REPORT_FILE}]({report_url})" if report_url else f"`{report.resolve()}`"
        out += [f"Review page: {where}", ""]
    if head["files_total"]:
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(head["files"].items()))
        out += [
            "| files | rows read | accepted | quarantined |",
            "|---|---:|---:|---:|",
            f"| {statuses} | {head['rows_read']:,} | {head['rows_accepted']:,} "
            f"| {head['quarantined']:,} |",
            "",
        ]
    out += [
        "| severity | alerts |",
        "|---|---:|",
        *[f"| {s} | {head['alerts'][s]:,} |" for s in SEVERITIES],
        "",
    ]
    if len(alerts):
        by_type = alerts.groupby(["alert_type", "severity"]).size().reset_index(name="n")
        out += ["| alert type | severity | count |", "|---|---|---:|"]
        out += [
            f"| {r.alert_type} | {r.severity} | {r.n:,} |" for r in by_type.itertuples(index=False)
        ]
    stale = [row for row in freshness_rows(run_dir, lines, alerts) if row["stale"]]
    if stale:
        out += [
            "",
            "## Stale feeds",
            "",
            "Their suggestions rest on old data.",
            "",
            "| dealer | feed | last report | days since |",
            "|---|---|---|---:|",
        ]
        for row in stale:
            dealer = _cell(f"{row['dealer_id']} {row['dealer_name']}".strip())
            out.append(
                f"| {dealer} | {_cell(row['feed'])} | {row['last_report_date']} "
                f"| {format_qty(row['days_since_report'])} |"
            )
    if len(alerts):
        out += [
            "",
            f"## Top {min(max_rows, len(alerts))} exceptions",
            "",
            "| severity | alert | dealer | sku | order value | message |",
            "|---|---|---|---|---:|---|",
        ]
        for rec in exceptions_frame(lines, alerts).head(max_rows).itertuples(index=False):
            out.append(
                f"| {rec.severity} | {rec.alert_type} | {_cell(rec.dealer_id)} | {_cell(rec.sku)} "
                f"| {format_money(rec.value)} | {_cell(rec.message)} |"
            )
    else:
        out.append("No alerts in this run.")
    if head["rejected"]:
        out += ["", "## Rejected files", ""]
        out += [f"- `{f.get('path', '')}`: {f.get('reason', '')}" for f in head["rejected"]]
    if table_path(run_dir, "changes").exists():
        out += _since_last_run(read_run_table(run_dir, "changes"), max_changes)
    out += _dealer_management(run_dir)
    if head["stages"]:
        out += ["", "## Stages", "", "| stage | seconds | rows |", "|---|---:|---:|"]
        out += [
            f"| {s.get('name', '')} | {float(s.get('seconds') or 0):.1f} "
            f"| {format_qty(s.get('rows'))} |"
            for s in head["stages"]
        ]
    return "\n".join(out) + "\n"
