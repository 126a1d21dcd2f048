"""What the dealer portal shows of one dealer: stock cover, what is on the way, scorecard, files.

Every function takes the dealer's id and returns that dealer's rows only; who may ask for which
dealer is decided in `web.portal` before any of these runs. Sources:

* stock cover: the newest published run's lines (`web.lines.load_lines`: on hand, in transit,
  on order, days of cover = inventory position / average daily demand, target = order-up-to /
  average daily demand), the same figures as the planner's grid;
* shipments on the way and approved orders: the warehouse named in that run's
  ``run_summary.json`` (`warehouse.portal`); without a warehouse, the approved lines of the
  newest approved run folder (``decisions.csv``), arriving as-of + lead time;
* scorecard: marts.fct_dealer_scorecard_quarterly, fct_dealer_escalation, fct_bullwhip;
* files: ``runs/<as_of>/exports/<dealer file>.csv|.xlsx`` (`planner.exports`), whose names
  come from the dealer's id (`planner.run_folder.order_file_name`), never from the request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from planner.run_folder import (
    EXPORTS_DIR,
    order_file_name,
    parse_bool,
    read_run_summary,
    read_run_table,
    table_path,
)
from warehouse import connect, marts
from warehouse import portal as portal_sql
from web import lines as run_lines

EXPORT_KINDS = {".csv": "text/csv", ".xlsx": (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}  # fmt: skip
COVER_COLUMNS = [
    "sku", "description", "category", "on_hand", "in_transit", "on_order",
    "inventory_position", "avg_daily_demand", "days_cover", "target_cover", "order_up_to",
]  # fmt: skip


class WarehouseUnavailable(RuntimeError):
    """No warehouse known, busy, or without the tables asked for: the one-line reason."""


def json_value(value: Any) -> Any:
    """A cell as JSON: dates as ISO text, NaN/NA as None, numpy scalars as Python ones."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float | np.number | np.bool_):
        return run_lines.json_value(value)  # the lines API's numbers
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: json_value(v) for k, v in row.items()} for row in frame.to_dict("records")]


# ------------------------------------------------------------------------------ runs


def latest_run(out: Path) -> tuple[str, Path] | None:
    runs = run_lines.run_folders(out)
    return (runs[0][0].isoformat(), runs[0][1]) if runs else None


def dealers(out: Path) -> list[dict[str, str]]:
    """Dealer id and name of every dealer in the newest run, by id."""
    latest = latest_run(out)
    if latest is None:
        return []
    lines = run_lines.load_lines(latest[1])
    named = lines.drop_duplicates("dealer_id").sort_values("dealer_id")
    return [
        {"dealer_id": d, "dealer_name": n or ""}
        for d, n in zip(named["dealer_id"], named["dealer_name"], strict=True)
    ]


def cover(out: Path, dealer_id: str) -> dict[str, Any]:
    """Per SKU of the dealer in the newest run: stock, demand, days of cover and target days,
    least covered first (SKUs without demand last)."""
    latest = latest_run(out)
    if latest is None:
        return {"as_of": None, "dealer_id": dealer_id, "dealer_name": "", "skus": []}
    as_of, folder = latest
    lines = run_lines.load_lines(folder)
    mine = lines[lines["dealer_id"] == dealer_id]
    mine = mine.sort_values(["days_cover", "sku"], na_position="last", kind="stable")
    name = str(mine["dealer_name"].iloc[0]) if len(mine) else ""
    return {
        "as_of": as_of,
        "dealer_id": dealer_id,
        "dealer_name": name,
        "skus": records(mine[COVER_COLUMNS]),
    }


# ------------------------------------------------------------------------------ warehouse


def warehouse_path(out: Path) -> Path:
    latest = latest_run(out)
    named = read_run_summary(latest[1]).get("warehouse") if latest else None
    if not named or not Path(named).exists():
        raise WarehouseUnavailable("no warehouse known: run `vmi run` first")
    return Path(named)


def _read(out: Path, reader):
    try:
        with connect(warehouse_path(out), read_only=True) as con:
            return reader(con)
    except (duckdb.IOException, duckdb.ConnectionException):
        # the lock holder's message names server paths: not for a dealer's page
        raise WarehouseUnavailable(
            "the warehouse is busy (the nightly run?): try again in a few minutes"
        ) from None
    except duckdb.CatalogException as exc:
        first = str(exc).splitlines()[0]
        raise WarehouseUnavailable(f"not in this warehouse yet ({first})") from None


@dataclass
class Incoming:
    dealer_id: str
    as_of: str | None
    shipments: list[dict[str, Any]] = field(default_factory=list)
    approved: list[dict[str, Any]] = field(default_factory=list)
    source: str = "warehouse"
    problem: str | None = None


def _approved_in_run_folder(out: Path, dealer_id: str) -> list[dict[str, Any]]:
    """The newest approved run's lines to ship to the dealer, arriving as-of + lead time."""
    for day, folder in run_lines.run_folders(out):
        if not table_path(folder, "decisions").exists():
            continue
        decisions = read_run_table(folder, "decisions")
        decisions = decisions[decisions["dealer_id"] == dealer_id]
        decisions = decisions[~parse_bool(decisions["is_held"]) & (decisions["approved_qty"] > 0)]
        lead = run_lines.load_lines(folder).set_index(["dealer_id", "sku"])["lead_time_days"]
        rows = []
        for rec in decisions.sort_values("sku").to_dict("records"):
            days = lead.get((dealer_id, rec["sku"]), 0.0)
            days = 0 if days is None or math.isnan(days) else math.ceil(days)
            rows.append(
                {"approval_id": rec["approval_id"], "approved_on": day.isoformat(),
                 "sku": rec["sku"], "approved_qty": float(rec["approved_qty"]),
                 "open_qty": float(rec["approved_qty"]), "approved_at": rec["approved_at"],
                 "expected_arrival": (day + timedelta(days=days)).isoformat()}
            )  # fmt: skip
        return sorted(rows, key=lambda r: (r["expected_arrival"], r["sku"]))
    return []


def incoming(out: Path, dealer_id: str) -> Incoming:
    """Shipments on the way and approved orders not yet shipped, with expected arrival."""
    latest = latest_run(out)
    found = Incoming(dealer_id, as_of=latest[0] if latest else None)
    try:
        shipments, approved = _read(
            out,
            lambda con: (
                portal_sql.open_shipments(con, dealer_id),
                portal_sql.approved_orders(con, dealer_id),
            ),
        )
    except WarehouseUnavailable as exc:
        found.problem = str(exc)
        found.source = "run folder"
        found.approved = _approved_in_run_folder(out, dealer_id)
        return found
    found.shipments = records(shipments)
    found.approved = records(approved)
    return found


def _tier(*rows: dict[str, Any] | None) -> str | None:
    for row in rows:
        if row and row.get("tier") not in (None, ""):
            return str(row["tier"])
    return None


def kpi_rows(quarter: dict[str, Any]) -> list[dict[str, Any]]:
    """A quarter's KPIs against their benchmarks: every column ``<kpi>`` that has a
    ``<kpi>_benchmark`` (a KPI or tier benchmark added in dbt shows up as it is)."""
    names = [c[: -len("_benchmark")] for c in quarter if c.endswith("_benchmark")]
    return [
        {
            "kpi": name,
            "value": quarter.get(name),
            "benchmark": quarter.get(f"{name}_benchmark"),
            "passed": quarter.get(f"{name}_passed"),
        }
        for name in names
        if name in quarter
    ]


def scorecard(out: Path, dealer_id: str) -> dict[str, Any]:
    """Quarterly scorecard (oldest quarter first), escalation state, bullwhip ratio and the
    dealer's tier when the marts carry one. Raises `WarehouseUnavailable`."""

    def read(con):
        parts = marts.dealer_scorecard(con, dealer_id)
        try:
            parts["dealer"] = portal_sql.dealer_row(con, dealer_id)
        except duckdb.CatalogException:
            parts["dealer"] = None
        return parts

    parts = _read(out, read)
    quarters = records(parts["quarters"])
    escalation = records(parts["escalation"])
    bullwhip = records(parts["bullwhip"])
    dealer = {k: json_value(v) for k, v in (parts["dealer"] or {}).items()}
    escalation_row = escalation[0] if escalation else None
    return {
        "dealer_id": dealer_id,
        "tier": _tier(quarters[-1] if quarters else None, escalation_row, dealer),
        "quarters": quarters,
        "escalation": escalation_row,
        "bullwhip": bullwhip[0] if bullwhip else None,
    }


# ------------------------------------------------------------------------------ files


def export_names(dealer_id: str) -> dict[str, str]:
    """The dealer's own export file names (CSV and XLSX) -> their media types."""
    stem = order_file_name(dealer_id)[: -len(".csv")]
    return {f"{stem}{suffix}": kind for suffix, kind in EXPORT_KINDS.items()}


def exports(out: Path, dealer_id: str) -> list[dict[str, str]]:
    """The dealer's export files of every run, newest run first."""
    names = export_names(dealer_id)
    found = []
    for day, folder in run_lines.run_folders(out):
        for name in names:
            if (folder / EXPORTS_DIR / name).is_file():
                found.append({"as_of": day.isoformat(), "name": name})
    return found


def export_file(out: Path, dealer_id: str, as_of: str, name: str) -> tuple[Path, str] | None:
    """The path and media type of the dealer's export ``name`` of run ``as_of``, or None when
    ``name`` is not one of the dealer's own file names or the file does not exist."""
    names = export_names(dealer_id)
    if name not in names:
        return None
    try:
        day = date.fromisoformat(as_of)
        folder = run_lines.folder_of(out, day.isoformat())
    except (ValueError, run_lines.RunNotFound):
        return None
    path = folder / EXPORTS_DIR / name
    return (path, names[name]) if path.is_file() else None
