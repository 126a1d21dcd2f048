"""Run-to-run comparison: what changed since the previous run, and why.

A planner reviewing tonight's run wants to know which alerts are new, which cleared, and which
suggested quantities moved enough to matter, each with the data that moved it: new sales, a
new stock report, a new forecast, a changed lead time. The comparison reads two published run
folders only (no warehouse, and nothing of planner/ but `planner.run_folder`), so it also works
on folders copied off the server.

Changes are ranked by the money they concern (`value`), biggest first, and a number counts as
changed only when it changes as shown (`_short`): "lead time sd 1.18 -> 1.18" is float noise,
not a reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.run_folder import (
    CHANGE_COLUMNS,
    read_run_summary,
    read_run_table,
    severity_rank,
    table_path,
    write_atomic,
    write_csv,
)

# change_type values, in the order rows are written.
CHANGE_TYPES = ("alert_new", "alert_cleared", "qty_changed", "line_added", "line_dropped")

# What can explain a change, checked per dealer x SKU (column pairs compared between runs).
DRIVERS: dict[str, tuple[str, ...]] = {
    "new_stock_report": ("on_hand",),
    "stock_in_transit_changed": ("in_transit", "on_order"),
    "new_forecast": ("avg_daily_demand",),
    "lead_time_changed": ("lead_time_days", "lead_time_sd_days"),
    "policy_changed": ("service_level", "review_period_days", "pack_size", "moq"),
}
LABELS = {
    "on_hand": "on hand", "in_transit": "in transit", "on_order": "on order",
    "avg_daily_demand": "demand/day", "lead_time_days": "lead time days",
    "lead_time_sd_days": "lead time sd", "service_level": "service level",
    "review_period_days": "review period", "pack_size": "pack", "moq": "MOQ",
}  # fmt: skip
PAIR = ["dealer_id", "sku"]
# changes.csv: the contract columns, `value` among them (what a change is worth: compare_runs).
CHANGE_OUTPUT_COLUMNS = CHANGE_COLUMNS


def _alert_keys(alerts: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct alert: type + dealer + SKU, and the message for file-wide alerts.

    Messages carry tonight's numbers, so they are not part of the key, except for alerts with
    neither dealer nor SKU (a rejected file), where the message is what tells them apart.
    """
    keyed = alerts.assign(
        key_message=np.where(
            (alerts["dealer_id"] == "") & (alerts["sku"] == ""), alerts["message"], ""
        )
    )
    keyed["rank"] = severity_rank(keyed["severity"])
    keyed = keyed.sort_values("rank", kind="stable")
    return keyed.drop_duplicates(["alert_type", "dealer_id", "sku", "key_message"])


def _sales_news(
    previous_dir: Path, current_dir: Path, previous_as_of: str
) -> tuple[pd.DataFrame, str]:
    """Per pair: units sold in weeks the previous run had not seen, and restated units.

    Returns the frame (``dealer_id, sku, new_units, new_weeks, restated_units``) and the
    cut-off week: the last week in the previous history (or the previous as-of when the
    previous run has no history file).
    """
    current = read_run_table(current_dir, "history")
    previous = read_run_table(previous_dir, "history")
    empty = pd.DataFrame(columns=[*PAIR, "new_units", "new_weeks", "restated_units"])
    if current.empty:
        return empty, previous_as_of
    cutoff = previous["week_start"].max() if len(previous) else previous_as_of
    fresh = current[current["week_start"] > cutoff]
    news = fresh.groupby(PAIR).agg(
        new_units=("qty_sold", "sum"), new_weeks=("week_start", "nunique")
    )
    if len(previous):
        both = current.merge(previous, on=[*PAIR, "week_start"], suffixes=("", "_prev"))
        both["diff"] = (both["qty_sold"].fillna(0) - both["qty_sold_prev"].fillna(0)).abs()
        restated = both.groupby(PAIR)["diff"].sum().rename("restated_units")
        news = news.join(restated, how="outer")
    else:
        news["restated_units"] = 0.0
    return news.fillna(0.0).reset_index(), str(cutoff)


def _shown(values: pd.Series) -> np.ndarray:
    """Each number as the detail text shows it (`_short`), formatting each distinct value once.

    Drivers are compared on these texts, so a number counts as changed only when it changes
    as shown: "lead time sd 1.18 -> 1.18" (1.1800001 against 1.18) is no change a reader
    could see. A value appearing or vanishing ("none") counts.
    """
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    distinct = {value: _short(value) for value in numbers.dropna().unique()}
    return np.array([distinct.get(v, "none") for v in numbers.to_numpy()], dtype=object)


def _explain(merged: pd.DataFrame, cutoff: str) -> tuple[pd.Series, pd.Series]:
    """For each row of previous x current suggestions, the reasons and a human detail text."""
    reasons: list[list[str]] = [[] for _ in range(len(merged))]
    details: list[list[str]] = [[] for _ in range(len(merged))]
    new_units = merged["new_units"].fillna(0).to_numpy(float)
    new_weeks = merged["new_weeks"].fillna(0).to_numpy(float)
    restated = merged["restated_units"].fillna(0).to_numpy(float)
    for k in range(len(merged)):
        if new_weeks[k] > 0:
            reasons[k].append("new_sales")
            details[k].append(
                f"{new_units[k]:g} units sold in {new_weeks[k]:g} new week(s) after {cutoff}"
            )
        if restated[k] > 1e-6:
            reasons[k].append("restated_sales")
            details[k].append(f"restated sales ({restated[k]:g} units differ)")
    for reason, columns in DRIVERS.items():
        flags = np.zeros(len(merged), dtype=bool)
        for column in columns:
            before, after = _shown(merged[f"{column}_prev"]), _shown(merged[column])
            changed = before != after
            flags |= changed
            for k in np.flatnonzero(changed):
                details[k].append(f"{LABELS[column]} {before[k]} -> {after[k]}")
        for k in np.flatnonzero(flags):
            reasons[k].append(reason)
    return (
        pd.Series([";".join(r) for r in reasons], index=merged.index),
        pd.Series(["; ".join(d) for d in details], index=merged.index),
    )


def _short(value: Any) -> str:
    """A number as the detail text shows it: 3 significant digits below 100, else whole."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "none"
    number = float(value)
    text = f"{number:.3g}" if abs(number) < 100 else f"{number:,.0f}"
    return "0" if text in ("-0", "-0.0") else text


def _unit_costs(current_dir: Path, previous_dir: Path) -> pd.Series:
    """Unit cost per (dealer_id, sku): tonight's item master, else the previous run's."""
    frames = [read_run_table(folder, "items") for folder in (current_dir, previous_dir)]
    items = pd.concat(frames, ignore_index=True).dropna(subset=["unit_cost"])
    items = items.drop_duplicates(PAIR, keep="first")
    return items.set_index(PAIR)["unit_cost"].astype(float)


def rank_changes(changes: pd.DataFrame) -> pd.DataFrame:
    """Biggest first: by ``value`` (unknown last), then |qty_delta|, severity, change type."""
    if changes.empty:
        return changes.reset_index(drop=True)
    order = {kind: k for k, kind in enumerate(CHANGE_TYPES)}
    keyed = changes.assign(
        _value=pd.to_numeric(changes["value"], errors="coerce").fillna(-1.0),
        _delta=pd.to_numeric(changes["qty_delta"], errors="coerce").abs().fillna(0.0),
        _severity=severity_rank(changes["severity"].fillna("")),
        _type=changes["change_type"].map(order).fillna(len(order)),
    )
    keyed = keyed.sort_values(
        ["_value", "_delta", "_severity", "_type", "dealer_id", "sku"],
        ascending=[False, False, True, True, True, True],
        kind="stable",
    )
    return keyed.drop(columns=["_value", "_delta", "_severity", "_type"]).reset_index(drop=True)


def compare_runs(
    previous_dir: Path | None, current_dir: Path, *, qty_threshold: float = 0.25
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Compare two run folders and write ``current_dir/changes.csv``.

    Parameters
    ----------
    previous_dir : Path or None
        The earlier run folder (see `planner.run_folder.find_previous_run`). ``None``: nothing
        to compare; the summary says so, the frame is empty and no file is written.
    current_dir : Path
        Tonight's run folder.
    qty_threshold : float
        A suggested quantity counts as moved when ``|current - previous|`` exceeds
        ``qty_threshold * previous`` (any increase from 0 qualifies) **and** is at least one
        pack (``pack_size``, so rounding noise never shows up).

    Returns
    -------
    summary : dict
        ``previous_as_of, current_as_of, previous_run_id, current_run_id, qty_threshold,
        alerts_new, alerts_cleared, qty_changed, lines_added, lines_dropped`` and ``reasons``
        (how many moved quantities each driver explains).
    changes : pandas.DataFrame
        ``CHANGE_COLUMNS`` plus ``value``: one row per new alert, cleared alert, moved
        quantity, added or dropped line, biggest ``value`` first (`rank_changes`).
        ``value`` is what the change is worth: ``|qty_delta| * unit_cost`` for a moved, added
        or dropped line; for an alert, its line's order value (the larger of the two runs'),
        a dealer-wide alert the dealer's order value tonight; empty where no unit cost is
        known (those rows come last). ``reasons`` is a ``;``-joined list of ``new_sales,
        restated_sales, new_stock_report, stock_in_transit_changed, new_forecast,
        lead_time_changed, policy_changed``; ``detail`` spells out the before -> after values,
        only for numbers that changed as shown (no "1.18 -> 1.18").
        ``summary["value_moved"]`` adds up ``value`` over the moved quantities.
    """
    current_dir = Path(current_dir)
    current = read_run_table(current_dir, "suggestions")
    current_summary = read_run_summary(current_dir)
    current_as_of = str(current_summary.get("as_of") or current_dir.name)
    summary: dict[str, Any] = {
        "previous_as_of": None,
        "current_as_of": current_as_of,
        "previous_run_id": None,
        "current_run_id": current_summary.get("run_id"),
        "qty_threshold": qty_threshold,
        "alerts_new": 0,
        "alerts_cleared": 0,
        "qty_changed": 0,
        "lines_added": 0,
        "lines_dropped": 0,
        "reasons": {},
        "value_moved": 0.0,
    }
    if previous_dir is None:
        return summary, pd.DataFrame(columns=CHANGE_OUTPUT_COLUMNS)
    previous_dir = Path(previous_dir)
    previous = read_run_table(previous_dir, "suggestions")
    previous_summary = read_run_summary(previous_dir)
    previous_as_of = str(previous_summary.get("as_of") or previous_dir.name)
    summary["previous_as_of"] = previous_as_of
    summary["previous_run_id"] = previous_summary.get("run_id")

    numeric = ["suggested_qty", *{c for cols in DRIVERS.values() for c in cols}]
    merged = current[[*PAIR, *numeric]].merge(
        previous[[*PAIR, *numeric]], on=PAIR, how="outer", suffixes=("", "_prev"), indicator=True
    )
    news, cutoff = _sales_news(previous_dir, current_dir, previous_as_of)
    merged = merged.merge(news, on=PAIR, how="left")
    merged["reasons"], merged["detail"] = _explain(merged, cutoff)
    cost = _unit_costs(current_dir, previous_dir)
    merged["unit_cost"] = cost.reindex(pd.MultiIndex.from_frame(merged[PAIR])).to_numpy()
    # What an alert concerns: its line's order value (the larger of the two runs'); a
    # dealer-wide alert: all of the dealer's suggested lines tonight; a file-wide one: unknown.
    merged["order_value"] = (
        np.maximum(merged["suggested_qty"].fillna(0.0), merged["suggested_qty_prev"].fillna(0.0))
        * merged["unit_cost"]
    )
    dealer_value = (
        (merged["suggested_qty"].fillna(0.0) * merged["unit_cost"])
        .groupby(merged["dealer_id"])
        .sum(min_count=1)
    )
    explain = merged.set_index(PAIR)[["reasons", "detail", "order_value"]]

    rows: list[pd.DataFrame] = []
    current_alerts = _alert_keys(read_run_table(current_dir, "alerts"))
    previous_alerts = _alert_keys(read_run_table(previous_dir, "alerts"))
    key = ["alert_type", "dealer_id", "sku", "key_message"]
    for change_type, ours, theirs in (
        ("alert_new", current_alerts, previous_alerts),
        ("alert_cleared", previous_alerts, current_alerts),
    ):
        only = ours.merge(theirs[key], on=key, how="left", indicator=True)
        only = only[only["_merge"] == "left_only"]
        only = only.join(explain, on=PAIR)
        dealer_wide = (only["sku"] == "") & (only["dealer_id"] != "")
        value = only["order_value"].where(~dealer_wide, only["dealer_id"].map(dealer_value))
        detail = only["message"].where(
            only["detail"].fillna("") == "",
            only["message"] + " (" + only["detail"].fillna("") + ")",
        )
        rows.append(
            pd.DataFrame(
                {
                    "change_type": change_type,
                    "dealer_id": only["dealer_id"],
                    "sku": only["sku"],
                    "alert_type": only["alert_type"],
                    "severity": only["severity"],
                    "reasons": only["reasons"].fillna(""),
                    "detail": detail,
                    "value": value.astype(float),
                }
            )
        )

    before = merged["suggested_qty_prev"].fillna(0.0)
    after = merged["suggested_qty"].fillna(0.0)
    delta = after - before
    pack = merged["pack_size"].fillna(merged["pack_size_prev"]).fillna(1.0).clip(lower=1.0)
    relative = delta.abs() > qty_threshold * before
    moved = (merged["_merge"] == "both") & relative & (delta.abs() >= pack) & (delta != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(before > 0, delta / before, np.nan)
    qty_frame = pd.DataFrame(
        {
            "change_type": "qty_changed",
            "dealer_id": merged["dealer_id"],
            "sku": merged["sku"],
            "previous_qty": before,
            "current_qty": after,
            "qty_delta": delta,
            "pct_change": pct,
            "reasons": merged["reasons"],
            "detail": merged["detail"],
            # What the move is worth: |qty_delta| x unit cost (added line: all of it, dropped
            # line: all of the previous).
            "value": delta.abs() * merged["unit_cost"],
        }
    )
    rows.append(qty_frame[moved])
    for change_type, side in (("line_added", "left_only"), ("line_dropped", "right_only")):
        # A line appearing or vanishing has no before/after to explain.
        detail = "new active line" if side == "left_only" else "no longer an active line"
        part = qty_frame[merged["_merge"] == side].assign(
            change_type=change_type, reasons="", detail=detail
        )
        rows.append(part)

    changes = (
        pd.concat([r for r in rows if len(r)], ignore_index=True)
        if any(len(r) for r in rows)
        else pd.DataFrame(columns=CHANGE_OUTPUT_COLUMNS)
    )
    changes = rank_changes(changes.reindex(columns=CHANGE_OUTPUT_COLUMNS))
    for column in ("alert_type", "severity", "reasons", "detail"):
        changes[column] = changes[column].fillna("")

    counts = changes["change_type"].value_counts()
    summary.update(
        {
            "alerts_new": int(counts.get("alert_new", 0)),
            "alerts_cleared": int(counts.get("alert_cleared", 0)),
            "qty_changed": int(counts.get("qty_changed", 0)),
            "lines_added": int(counts.get("line_added", 0)),
            "lines_dropped": int(counts.get("line_dropped", 0)),
        }
    )
    reason_counts: dict[str, int] = {}
    for text in changes.loc[changes["change_type"] == "qty_changed", "reasons"]:
        for reason in filter(None, text.split(";")):
            reason_counts[reason] = reason_counts.get(reason, 0) + 1
    summary["reasons"] = reason_counts
    moved_value = changes.loc[changes["change_type"] == "qty_changed", "value"]
    summary["value_moved"] = float(pd.to_numeric(moved_value, errors="coerce").fillna(0).sum())

    write_atomic(table_path(current_dir, "changes"), lambda temp: write_csv(changes, temp))
    return summary, changes
