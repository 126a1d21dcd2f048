"""Figures of one run that both the review page and the markdown summary show.

The header counts, data freshness with its stale feeds, the exceptions in the order a planner
works them, the figures of the front-page charts (network health, exceptions by type, service
and forecast accuracy across runs) and the number formats. Everything is computed from the run
folder (`planner.run_folder`); nothing here renders HTML or markdown.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from planner.run_folder import (
    SEVERITIES,
    read_run_files,
    read_run_table,
    severity_rank,
    table_path,
)


def run_header(
    folder: Path, summary: dict[str, Any], lines: pd.DataFrame, alerts: pd.DataFrame
) -> dict[str, Any]:
    """Run id, as-of, file and row counts, line and order totals, alerts per severity, stages.

    Parameters
    ----------
    folder : Path
        The run folder.
    summary : dict
        Its ``run_summary.json`` (may be empty); a run with many files has their rows in
        files.csv (`planner.run_folder.read_run_files`).
    lines : pandas.DataFrame
        `planner.run_folder.lines_with_items` of the folder.
    alerts : pandas.DataFrame
        Its ``alerts.csv``.
    """
    quarantine = read_run_table(folder, "quarantine")
    files = read_run_files(folder, summary)
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


# --------------------------------------------------------------------------------------------
# Front-page charts: network health, exceptions by type, service and accuracy across runs
# --------------------------------------------------------------------------------------------

# Alert types about too much stock: what is at stake is the stock's value, not the order's.
EXCESS_ALERTS = {"overstock", "slow_moving", "dead_stock"}
TREND_RUNS = 12  # runs the trend chart covers, tonight's included


def network_health(lines: pd.DataFrame) -> list[dict[str, Any]]:
    """Per dealer: days of cover now against the policy's targets, in days of demand.

    Over the dealer's lines with demand (``avg_daily_demand > 0``), weighted by unit cost (a
    line without a cost weighs as 1), so expensive lines count for what they are worth:

    * ``cover_days = sum(inventory_position * w) / sum(avg_daily_demand * w)``
    * ``target_days``: the same for ``order_up_to`` (the level each order refills to)
    * ``safety_days``: the same for ``safety_stock`` (the floor before an arrival)

    ``status`` is ``short`` below the safety days, ``over`` above twice the target, else
    ``ok``. Sorted by ``cover_days / target_days``, least covered first.
    """
    demand = lines["avg_daily_demand"].fillna(0.0)
    with_demand = lines[demand > 0]
    if with_demand.empty:
        return []
    weight = with_demand["unit_cost"].fillna(1.0).where(with_demand["unit_cost"] > 0, 1.0)
    frame = pd.DataFrame(
        {
            "dealer_id": with_demand["dealer_id"],
            "dealer_name": with_demand["dealer_name"],
            "position": with_demand["inventory_position"].fillna(0.0) * weight,
            "demand": with_demand["avg_daily_demand"] * weight,
            "target": with_demand["order_up_to"].fillna(0.0) * weight,
            "safety": with_demand["safety_stock"].fillna(0.0) * weight,
        }
    )
    per = frame.groupby("dealer_id").agg(
        dealer_name=("dealer_name", "first"),
        lines=("demand", "size"),
        position=("position", "sum"),
        demand=("demand", "sum"),
        target=("target", "sum"),
        safety=("safety", "sum"),
    )
    rows = []
    for dealer, rec in per.iterrows():
        cover = rec["position"] / rec["demand"]
        target = rec["target"] / rec["demand"]
        safety = rec["safety"] / rec["demand"]
        status = "short" if cover < safety else "over" if cover > 2 * target else "ok"
        rows.append(
            {
                "dealer_id": str(dealer),
                "dealer_name": str(rec["dealer_name"]),
                "lines": int(rec["lines"]),
                "cover_days": round(float(cover), 1),
                "target_days": round(float(target), 1),
                "safety_days": round(float(safety), 1),
                "status": status,
            }
        )
    return sorted(
        rows, key=lambda r: r["cover_days"] / r["target_days"] if r["target_days"] else 0.0
    )


def exceptions_by_type(exceptions: pd.DataFrame) -> list[dict[str, Any]]:
    """Per alert type: how many alerts of each severity and the value they put at stake.

    ``exceptions`` is `exceptions_frame`'s result. An alert's value is its line's order value,
    or for too much stock (`EXCESS_ALERTS`) the line's stock value; a dealer-wide alert counts
    the dealer's order value (what rests on it). Sorted by value, then count, largest first.
    """
    if exceptions.empty:
        return []
    value = exceptions["value"].where(
        ~exceptions["alert_type"].isin(EXCESS_ALERTS), exceptions["stock_value"]
    )
    frame = exceptions.assign(at_stake=value.fillna(0.0))
    rows = []
    for alert_type, part in frame.groupby("alert_type"):
        rows.append(
            {
                "alert_type": str(alert_type),
                "count": int(len(part)),
                "value": round(float(part["at_stake"].sum()), 2),
                "by_severity": {
                    s: {
                        "count": int((part["severity"] == s).sum()),
                        "value": round(float(part.loc[part["severity"] == s, "at_stake"].sum()), 2),
                    }
                    for s in SEVERITIES
                },
            }
        )
    return sorted(rows, key=lambda r: (-r["value"], -r["count"], r["alert_type"]))


def in_stock_rate(lines: pd.DataFrame) -> float | None:
    """Share of lines with demand (``avg_daily_demand > 0``) that have stock on hand."""
    demand = lines["avg_daily_demand"].fillna(0.0) > 0
    if not demand.any():
        return None
    return float((lines.loc[demand, "on_hand"].fillna(0.0) > 0).mean())


def forecast_accuracy(forecast: pd.DataFrame, history: pd.DataFrame) -> dict[str, Any] | None:
    """How well a run's forecast of its first week matched the sales later reported.

    ``forecast`` is a run's forecast.csv (``dealer_id, sku, week_start, yhat``), ``history``
    a later run's history.csv. Over the pairs in both, for the forecast's first week:
    ``accuracy = max(0, 1 - WAPE)``, ``WAPE = sum |sold - yhat| / sum sold``. None when that
    week is not in the history yet or nothing was sold in it.
    """
    if forecast.empty or history.empty:
        return None
    week = forecast["week_start"].min()
    first = forecast[forecast["week_start"] == week][["dealer_id", "sku", "yhat"]]
    sold = history[history["week_start"] == week][["dealer_id", "sku", "qty_sold"]]
    both = first.merge(sold, on=["dealer_id", "sku"], how="inner")
    actual = float(both["qty_sold"].fillna(0.0).sum())
    if both.empty or actual <= 0:
        return None
    error = float((both["qty_sold"].fillna(0.0) - both["yhat"].fillna(0.0)).abs().sum())
    return {"week": str(week), "wape": error / actual, "accuracy": max(0.0, 1 - error / actual)}


def earlier_runs(folder: Path, as_of: str, limit: int) -> list[Path]:
    """Up to ``limit`` run folders beside ``folder`` with an earlier as-of, oldest first."""
    folder = Path(folder)
    if not folder.parent.is_dir():
        return []
    found = []
    for path in folder.parent.iterdir():
        name = path.name
        if path == folder or not path.is_dir() or len(name) != 10 or name >= str(as_of)[:10]:
            continue
        if not table_path(path, "suggestions").exists():
            continue
        try:
            date.fromisoformat(name)
        except ValueError:
            continue
        found.append(path)
    return sorted(found)[-limit:] if limit > 0 else []


def run_trend(
    folder: Path, as_of: str, lines: pd.DataFrame, history: pd.DataFrame
) -> list[dict[str, Any]]:
    """Service and forecast accuracy over the last `TREND_RUNS` runs, tonight's last.

    Per run: ``in_stock`` (`in_stock_rate` of its suggestions) and ``forecast_accuracy``
    (`forecast_accuracy` of its forecast against tonight's history, the latest word on what
    sold; None for runs whose first forecast week is not reported yet, tonight's included).
    """
    runs = earlier_runs(folder, as_of, TREND_RUNS - 1)
    firsts = {}
    for path in runs:
        forecast = read_run_table(path, "forecast", ["dealer_id", "sku", "week_start", "yhat"])
        if len(forecast):
            firsts[path] = forecast[forecast["week_start"] == forecast["week_start"].min()]
    # One pass over tonight's history for the weeks any of those forecasts start with.
    weeks = {str(f["week_start"].iloc[0]) for f in firsts.values() if len(f)}
    reported = history[history["week_start"].isin(weeks)] if weeks else history.iloc[:0]
    rows = []
    for path in runs:
        suggestions = read_run_table(path, "suggestions", ["on_hand", "avg_daily_demand"])
        first = firsts.get(path)
        accuracy = forecast_accuracy(first, reported) if first is not None else None
        rows.append(
            {
                "as_of": path.name,
                "in_stock": in_stock_rate(suggestions),
                "forecast_accuracy": accuracy["accuracy"] if accuracy else None,
                "forecast_week": accuracy["week"] if accuracy else None,
            }
        )
    rows.append(
        {
            "as_of": str(as_of)[:10],
            "in_stock": in_stock_rate(lines),
            "forecast_accuracy": None,
            "forecast_week": None,
        }
    )
    return rows
