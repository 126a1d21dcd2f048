"""A run's lines as the workbench shows them: suggestions, items, alerts and planner state.

`RunLines` reads a published run folder once (cached by the files' modification times) and
answers filtered, sorted, paged queries; the planner state (version, qty, hold, notes, snooze)
comes fresh from the `warehouse.workbench.Store` on every query, so two planners see each
other's edits at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.figures import exceptions_frame
from planner.line_rules import moq_units, qty_rule
from planner.report import chart_figures
from planner.run_folder import (
    HISTORY_WEEKS,
    lines_with_items,
    parse_bool,
    published_runs,
    read_run_table,
    run_as_of,
    run_dir,
    table_path,
)
from warehouse.workbench import Store

# Columns a grid may sort on (a leading "-" sorts descending).
SORTABLE = (
    "dealer_id",
    "sku",
    "region",
    "demand_class",
    "abc_class",
    "suggested_qty",
    "value",
    "on_hand",
    "avg_daily_demand",
    "days_cover",
    "alert_count",
)
DEFAULT_SORT = "-value"
MAX_PAGE_SIZE = 500


class RunNotFound(LookupError):
    """No published run for that as-of."""


@dataclass(frozen=True)
class Query:
    dealer_id: str | None = None
    region: str | None = None
    sku: str | None = None  # substring, case-insensitive
    demand_class: str | None = None
    alert: str | None = None  # an alert type, or "any"
    sort: str = DEFAULT_SORT
    page: int = 1
    page_size: int = 50


def run_folders(out_dir: Path) -> list[tuple[date, Path]]:
    """(as_of, folder) of every published run, newest first."""
    found = [(run_as_of(p), p) for p in published_runs(out_dir)]
    return sorted(((d, p) for d, p in found if d is not None), reverse=True)


def folder_of(out_dir: Path, as_of: str) -> Path:
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise RunNotFound(f"'{as_of}' is not a date (YYYY-MM-DD)") from None
    folder = run_dir(out_dir, day)
    if not table_path(folder, "suggestions").exists():
        raise RunNotFound(f"no published run for {day.isoformat()}")
    return folder


def _stamp(folder: Path, names: tuple[str, ...] = ("suggestions", "items", "alerts", "decisions")):
    """Modification times of a run's tables: the key that keeps a cache true to the files."""
    return tuple(
        table_path(folder, n).stat().st_mtime_ns if table_path(folder, n).exists() else 0
        for n in names
    )


@lru_cache(maxsize=8)
def _load(folder: Path, stamp: tuple) -> pd.DataFrame:
    lines = lines_with_items(folder)
    alerts = read_run_table(folder, "alerts")
    pair_alerts = (
        alerts[alerts["sku"].astype(str) != ""]
        .groupby(["dealer_id", "sku"])["alert_type"]
        .agg(lambda s: sorted(set(s)))
        .rename("alerts")
    )
    lines = lines.merge(pair_alerts, on=["dealer_id", "sku"], how="left")
    lines["alerts"] = lines["alerts"].apply(lambda v: v if isinstance(v, list) else [])
    lines["alert_count"] = lines["alerts"].str.len()
    demand = lines["avg_daily_demand"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lines["days_cover"] = np.where(demand > 0, lines["inventory_position"] / demand, np.nan)
        lines["target_cover"] = np.where(demand > 0, lines["order_up_to"] / demand, np.nan)
    lines["moq_units"] = [
        moq_units(p, m) for p, m in zip(lines["pack_size"], lines["moq"], strict=True)
    ]
    lines["rule"] = [qty_rule(p, m) for p, m in zip(lines["pack_size"], lines["moq"], strict=True)]
    decisions = read_run_table(folder, "decisions")
    if len(decisions):
        approved = decisions[["dealer_id", "sku", "approved_qty", "is_held", "approval_id"]]
        lines = lines.merge(approved, on=["dealer_id", "sku"], how="left")
    else:
        lines["approved_qty"] = np.nan
        lines["is_held"] = ""
        lines["approval_id"] = ""
    return lines.reset_index(drop=True)


def load_lines(folder: Path) -> pd.DataFrame:
    """Every line of a run with items, alerts, cover and the last approval (cached)."""
    return _load(folder, _stamp(folder))


def json_value(value: Any) -> Any:
    """A number as JSON: NaN as None, numpy scalars as Python ones; anything else as it is."""
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def line_record(row: dict[str, Any], state: dict[str, Any], *, internal: bool) -> dict[str, Any]:
    """One line for the API: its columns, its planner state and what would be ordered."""
    record = {k: json_value(v) for k, v in row.items() if k not in ("is_held",)}
    record.update(
        version=state["version"],
        qty=state["qty"],
        hold=state["hold"],
        dealer_note=state["dealer_note"],
        snooze_until=state["snooze_until"],
        updated_by=state["updated_by"],
        updated_at=state["updated_at"],
        approved=None if record.get("approved_qty") is None else record["approved_qty"],
    )
    if internal:
        record["note"] = state["note"]
    # A night capped by master/supply.csv ships what was allocated (replenishment/allocation.py).
    suggested = record.get("allocated_qty", record.get("suggested_qty")) or 0.0
    if state["hold"] or (state["snooze_until"] and state["qty"] is None):
        final = 0.0
    else:
        final = suggested if state["qty"] is None else state["qty"]
    record["final_qty"] = final
    record["final_value"] = final * (record.get("unit_cost") or 0.0)
    return record


def query_lines(
    out_dir: Path, as_of: str, query: Query, *, store: Store, dealer_scope: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Lines matching ``query`` (one page) and how many matched in all.

    ``dealer_scope`` (a dealer user's own id) restricts the lines to that dealer whatever the
    query asks, and drops the internal note.
    """
    folder = folder_of(out_dir, as_of)
    lines = load_lines(folder)
    mask = pd.Series(True, index=lines.index)
    dealer = dealer_scope or query.dealer_id
    if dealer_scope and query.dealer_id and query.dealer_id != dealer_scope:
        return [], 0
    if dealer:
        mask &= lines["dealer_id"] == dealer
    if query.region:
        mask &= lines["region"] == query.region
    if query.sku:
        mask &= lines["sku"].str.contains(query.sku, case=False, regex=False) | lines[
            "description"
        ].str.contains(query.sku, case=False, regex=False)
    if query.demand_class:
        mask &= lines["demand_class"] == query.demand_class
    if query.alert == "any":
        mask &= lines["alert_count"] > 0
    elif query.alert:
        mask &= lines["alerts"].apply(lambda a: query.alert in a)
    selected = lines[mask]
    key = query.sort.lstrip("-")
    if key not in SORTABLE:
        raise ValueError(f"sort: '{query.sort}' is not one of {', '.join(SORTABLE)}")
    selected = selected.sort_values(
        [key, "dealer_id", "sku"],
        ascending=[not query.sort.startswith("-"), True, True],
        na_position="last",
        kind="stable",
    )
    size = max(1, min(int(query.page_size), MAX_PAGE_SIZE))
    start = (max(1, int(query.page)) - 1) * size
    page = selected.iloc[start : start + size]
    states = store.line_states(folder_as_of(folder))
    blank = Store.blank_line()
    records = [
        line_record(
            row, states.get((row["dealer_id"], row["sku"]), blank), internal=not dealer_scope
        )
        for row in page.to_dict("records")
    ]
    return records, len(selected)


def one_line(
    out_dir: Path, as_of: str, dealer_id: str, sku: str, *, store: Store, internal: bool = True
) -> dict[str, Any] | None:
    folder = folder_of(out_dir, as_of)
    lines = load_lines(folder)
    match = lines[(lines["dealer_id"] == dealer_id) & (lines["sku"] == sku)]
    if match.empty:
        return None
    state = store.line_state(folder_as_of(folder), dealer_id, sku)
    return line_record(match.iloc[0].to_dict(), state, internal=internal)


def folder_as_of(folder: Path) -> str:
    return str(run_as_of(folder))


OVERVIEW_TABLES = ("suggestions", "items", "alerts", "history", "decisions")


@lru_cache(maxsize=4)
def _overview(folder: Path, stamp: tuple) -> tuple[dict[str, Any], pd.DataFrame]:
    lines = load_lines(folder)
    alerts = read_run_table(folder, "alerts")
    history = read_run_table(folder, "history", ["dealer_id", "sku", "week_start", "qty_sold"])
    exceptions = exceptions_frame(lines, alerts)
    figures = chart_figures(folder, folder_as_of(folder), lines, exceptions, history)
    figures["totals"] = {
        "lines": int(len(lines)),
        "lines_to_ship": int((lines["suggested_qty"] > 0).sum()),
        "value": float(lines["value"].sum()),
        "alerts": int(len(alerts)),
    }
    return figures, exceptions


def run_overview(folder: Path) -> dict[str, Any]:
    """The front page's figures: the same as report.html's charts (`planner.report.
    chart_figures`: network health, exceptions by type and value, the runs' trend), plus
    totals; computed once per run folder state."""
    return _overview(folder, _stamp(folder, OVERVIEW_TABLES))[0]


def exceptions(folder: Path) -> pd.DataFrame:
    """The run's alerts joined with their lines, most severe and valuable first
    (`planner.figures.exceptions_frame`), for the exceptions queue."""
    return _overview(folder, _stamp(folder, OVERVIEW_TABLES))[1]


@lru_cache(maxsize=4)
def _series(folder: Path, stamp: tuple) -> tuple[pd.DataFrame, pd.DataFrame]:
    history = read_run_table(
        folder, "history", ["dealer_id", "sku", "week_start", "qty_sold", "is_censored"]
    )
    forecast = read_run_table(
        folder, "forecast", ["dealer_id", "sku", "week_start", "yhat", "yhat_lo", "yhat_hi"]
    )
    return (
        history.set_index(["dealer_id", "sku"]).sort_index(),
        forecast.set_index(["dealer_id", "sku"]).sort_index(),
    )


def pair_series(folder: Path, dealer_id: str, sku: str) -> dict[str, list[dict]]:
    """A pair's weekly history (the last `HISTORY_WEEKS`, censored weeks flagged) and forecast,
    for the drill-down chart; the run's files are read once and kept by modification time."""
    history, forecast = _series(folder, _stamp(folder, ("history", "forecast")))
    key = (dealer_id, sku)
    weeks = history.loc[[key]] if key in history.index else None
    ahead = forecast.loc[[key]] if key in forecast.index else None
    return {
        "history": []
        if weeks is None
        else [
            {"week": w, "qty": json_value(q), "censored": bool(c)}
            for w, q, c in zip(
                weeks["week_start"],
                weeks["qty_sold"],
                parse_bool(weeks["is_censored"]),
                strict=True,
            )
        ][-HISTORY_WEEKS:],
        "forecast": []
        if ahead is None
        else [
            {"week": w, "yhat": json_value(y), "lo": json_value(lo), "hi": json_value(hi)}
            for w, y, lo, hi in zip(
                ahead["week_start"], ahead["yhat"], ahead["yhat_lo"], ahead["yhat_hi"], strict=True
            )
        ],
    }
