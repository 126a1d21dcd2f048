"""The planner's review page: `report.html` for one published run folder.

The page is self-contained (no network): the CSS, a small vanilla-JS table and hand-drawn SVG
charts are inlined, and the line data travels as one gzip-compressed, base64-encoded JSON blob
that the browser unpacks with its built-in `DecompressionStream`. Only the rows on the visible
page of the table are turned into DOM nodes, so 20,000 lines stay fast; see docs/planner-guide.md
for why SVG and not plotly (plotly.js alone weighs 4.8 MB).

Everything here reads the run folder contract (DESIGN.md "Outputs" plus the files publish adds:
history, items, kpis, freshness, transfers); any optional file may be missing.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

TEMPLATES = Path(__file__).parent / "templates"

# Column contract of every CSV a run folder may hold (DESIGN.md + publish).
RUN_FILES: dict[str, list[str]] = {
    "suggestions": [
        "run_id", "as_of", "dealer_id", "sku", "on_hand", "in_transit", "on_order",
        "inventory_position", "avg_daily_demand", "demand_class", "forecast_model",
        "lead_time_days", "lead_time_sd_days", "review_period_days", "protection_days",
        "demand_over_protection", "sigma_over_protection", "service_level", "z", "safety_stock",
        "order_up_to", "raw_need", "pack_size", "moq", "suggested_qty", "reason",
    ],
    "alerts": [
        "run_id", "as_of", "alert_type", "severity", "dealer_id", "sku", "metric", "threshold",
        "message",
    ],
    "quarantine": ["run_id", "source_file", "line", "rule", "column", "value", "raw_record"],
    "forecast": ["dealer_id", "sku", "week_start", "yhat", "yhat_lo", "yhat_hi", "model"],
    "transfers": ["from_dealer_id", "to_dealer_id", "sku", "qty", "reason"],
    "history": ["dealer_id", "sku", "week_start", "qty_sold", "is_censored"],
    "items": [
        "dealer_id", "sku", "dealer_name", "region", "category", "description", "unit_cost",
        "abc_class",
    ],
    "kpis": [
        "dealer_id", "days_of_inventory", "slow_moving_share", "sell_through_rate",
        "stockout_days",
    ],
    "freshness": ["dealer_id", "feed", "last_report_date", "days_since_report"],
}

# Columns read as numbers; every other contract column is text (ids such as "NA" or "007" must
# survive, so text columns are never type-guessed).
NUMERIC_COLUMNS = {
    "on_hand", "in_transit", "on_order", "inventory_position", "avg_daily_demand",
    "lead_time_days", "lead_time_sd_days", "review_period_days", "protection_days",
    "demand_over_protection", "sigma_over_protection", "service_level", "z", "safety_stock",
    "order_up_to", "raw_need", "pack_size", "moq", "suggested_qty", "metric", "threshold",
    "line", "yhat", "yhat_lo", "yhat_hi", "qty", "qty_sold", "unit_cost", "days_of_inventory",
    "slow_moving_share", "sell_through_rate", "stockout_days", "days_since_report",
}

# Dates kept as ISO text; a writer may have added a midnight time ("2025-06-23 00:00:00").
DATE_COLUMNS = {"as_of", "week_start", "last_report_date"}

SEVERITIES = ("critical", "warning", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

# Exceptions rendered as static HTML at the top; the rest stay reachable through the table's
# alert-type filter, which keeps the page small when a run raises thousands of alerts.
MAX_EXCEPTION_ROWS = 200
MAX_CHANGE_ROWS = 100
HISTORY_WEEKS = 104

# Numeric columns the drill-down shows, in the order of the policy's arithmetic.
LINE_NUMBERS = [
    "on_hand", "in_transit", "on_order", "inventory_position", "avg_daily_demand",
    "lead_time_days", "lead_time_sd_days", "review_period_days", "protection_days",
    "demand_over_protection", "sigma_over_protection", "service_level", "z", "safety_stock",
    "order_up_to", "raw_need", "pack_size", "moq", "suggested_qty", "unit_cost", "value",
]


# --------------------------------------------------------------------------------------------
# Reading the run folder
# --------------------------------------------------------------------------------------------


def read_run_table(run_dir: Path, name: str) -> pd.DataFrame:
    """Read one CSV of a run folder with the contract's columns and types.

    Parameters
    ----------
    run_dir : Path
        The run folder, ``OUT/runs/<as_of>/``.
    name : str
        A key of ``RUN_FILES`` (file name without ``.csv``).

    Returns
    -------
    pandas.DataFrame
        The contract columns (missing ones added empty) plus any extra columns in the file.
        Text columns hold strings (empty string, never NaN); numeric columns hold floats.
        A missing file gives an empty frame with the contract columns.
    """
    columns = RUN_FILES[name]
    path = Path(run_dir) / f"{name}.csv"
    if not path.exists():
        frame = pd.DataFrame({c: pd.Series(dtype=float if c in NUMERIC_COLUMNS else object)
                              for c in columns})
        return frame
    header = pd.read_csv(path, nrows=0).columns
    numeric = [c for c in header if c in NUMERIC_COLUMNS]
    frame = pd.read_csv(
        path,
        dtype={c: str for c in header if c not in NUMERIC_COLUMNS},
        keep_default_na=False,
        na_values={c: ["", "nan", "NaN", "NA", "null"] for c in numeric},
    )
    for column in columns:
        if column not in frame.columns:
            frame[column] = np.nan if column in NUMERIC_COLUMNS else ""
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in DATE_COLUMNS & set(header):
        frame[column] = frame[column].str.slice(0, 10)
    return frame


def read_run_summary(run_dir: Path) -> dict[str, Any]:
    """``run_summary.json`` as a dict, or an empty dict when the file is missing."""
    path = Path(run_dir) / "run_summary.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def parse_bool(values: pd.Series) -> pd.Series:
    """Map true/false/yes/no/1/0 spellings (any case) to booleans; anything else is False."""
    text = values.astype(str).str.strip().str.lower()
    return text.isin({"true", "t", "yes", "y", "1", "1.0"})


def lines_with_items(run_dir: Path) -> pd.DataFrame:
    """Suggestions joined with their item master (names, category, unit cost) and line value.

    ``value`` is ``suggested_qty * unit_cost`` (0 where the cost is unknown) and
    ``stock_value`` is ``on_hand * unit_cost``.
    """
    lines = read_run_table(run_dir, "suggestions")
    items = read_run_table(run_dir, "items")
    items = items.drop_duplicates(["dealer_id", "sku"], keep="last")
    item_columns = ["dealer_name", "region", "category", "description", "unit_cost", "abc_class"]
    lines = lines.merge(items[["dealer_id", "sku", *item_columns]], on=["dealer_id", "sku"],
                        how="left")
    for column in ("dealer_name", "region", "category", "description", "abc_class"):
        lines[column] = lines[column].fillna("").astype(str)
    lines["unit_cost"] = lines["unit_cost"].astype(float)
    cost = lines["unit_cost"].fillna(0.0)
    lines["value"] = lines["suggested_qty"].fillna(0.0) * cost
    lines["stock_value"] = lines["on_hand"].fillna(0.0).clip(lower=0) * cost
    return lines.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Page sections
# --------------------------------------------------------------------------------------------


def _run_header(run_dir: Path, summary: dict[str, Any], lines: pd.DataFrame,
                alerts: pd.DataFrame) -> dict[str, Any]:
    quarantine = read_run_table(run_dir, "quarantine")
    files = summary.get("files") or []
    status_counts: dict[str, int] = {}
    for entry in files:
        status = str(entry.get("status", "unknown"))
        status_counts[status] = status_counts.get(status, 0) + 1
    quarantined = len(quarantine)
    if not quarantined and files:
        quarantined = int(sum(int(entry.get("rows_quarantined") or 0) for entry in files))
    run_id = summary.get("run_id") or (lines["run_id"].iloc[0] if len(lines) else "")
    as_of = summary.get("as_of") or (lines["as_of"].iloc[0] if len(lines) else run_dir.name)
    ordered = lines["suggested_qty"].fillna(0) > 0
    severity_counts = {s: int((alerts["severity"] == s).sum()) for s in SEVERITIES}
    return {
        "run_id": run_id,
        "as_of": as_of,
        "files": status_counts,
        "files_total": len(files),
        "quarantined": quarantined,
        "lines": len(lines),
        "lines_ordered": int(ordered.sum()),
        "units": float(lines.loc[ordered, "suggested_qty"].sum()),
        "value": float(lines["value"].sum()),
        "missing_cost": int((ordered & lines["unit_cost"].isna()).sum()),
        "alerts": severity_counts,
        "stages": summary.get("stages") or [],
    }


def _freshness(run_dir: Path, lines: pd.DataFrame, alerts: pd.DataFrame) -> list[dict]:
    """Per dealer and feed, with stale ones (a `stale_feed` alert in this run) flagged.

    The alert is the single source of truth for staleness, so the page agrees with the
    thresholds the policy configuration applied.
    """
    freshness = read_run_table(run_dir, "freshness")
    stale = alerts.loc[alerts["alert_type"] == "stale_feed", "dealer_id"]
    stale_dealers = set(stale.astype(str))
    names = dict(zip(lines["dealer_id"], lines["dealer_name"], strict=False))
    rows = []
    for rec in freshness.sort_values(["dealer_id", "feed"]).itertuples(index=False):
        rows.append({
            "dealer_id": rec.dealer_id,
            "dealer_name": names.get(rec.dealer_id, ""),
            "feed": rec.feed,
            "last_report_date": rec.last_report_date,
            "days_since_report": rec.days_since_report,
            "stale": rec.dealer_id in stale_dealers,
        })
    return rows


def exceptions_frame(lines: pd.DataFrame, alerts: pd.DataFrame) -> pd.DataFrame:
    """Alerts joined with their line, sorted by severity, then order value, then stock value.

    Alerts about a whole dealer or a whole file (empty ``sku``) sort by the value of all the
    dealer's suggested lines, so a stale feed at a big dealer comes before one at a small one.
    """
    if alerts.empty:
        return alerts.assign(value=[], stock_value=[], rank=[])
    pair = alerts.merge(lines[["dealer_id", "sku", "dealer_name", "description", "value",
                               "stock_value"]],
                        on=["dealer_id", "sku"], how="left")
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
    pair["rank"] = pair["severity"].map(SEVERITY_RANK).fillna(len(SEVERITIES)).astype(int)
    return pair.sort_values(["rank", "value", "stock_value"], ascending=[True, False, False],
                            kind="stable").reset_index(drop=True)


def _kpis(run_dir: Path, lines: pd.DataFrame, alerts: pd.DataFrame) -> list[dict]:
    kpis = read_run_table(run_dir, "kpis").set_index("dealer_id")
    per_dealer = lines.groupby("dealer_id").agg(
        dealer_name=("dealer_name", "first"),
        region=("region", "first"),
        lines=("sku", "size"),
        lines_ordered=("suggested_qty", lambda q: int((q.fillna(0) > 0).sum())),
        value=("value", "sum"),
    )
    critical = alerts[alerts["severity"] == "critical"].groupby("dealer_id").size()
    warning = alerts[alerts["severity"] == "warning"].groupby("dealer_id").size()
    dealers = sorted(set(per_dealer.index) | set(kpis.index))
    rows = []
    for dealer in dealers:
        rec = per_dealer.loc[dealer] if dealer in per_dealer.index else None
        kpi = kpis.loc[dealer] if dealer in kpis.index else None
        if isinstance(kpi, pd.DataFrame):  # duplicated dealer rows: keep the last
            kpi = kpi.iloc[-1]
        rows.append({
            "dealer_id": dealer,
            "dealer_name": rec["dealer_name"] if rec is not None else "",
            "region": rec["region"] if rec is not None else "",
            "lines": int(rec["lines"]) if rec is not None else 0,
            "lines_ordered": int(rec["lines_ordered"]) if rec is not None else 0,
            "value": float(rec["value"]) if rec is not None else 0.0,
            "critical": int(critical.get(dealer, 0)),
            "warning": int(warning.get(dealer, 0)),
            **{name: (None if kpi is None else _num(kpi[name]))
               for name in ("days_of_inventory", "slow_moving_share", "sell_through_rate",
                            "stockout_days")},
        })
    return rows


def _transfers(run_dir: Path, lines: pd.DataFrame) -> list[dict]:
    transfers = read_run_table(run_dir, "transfers")
    if transfers.empty:
        return []
    cost = lines.drop_duplicates("sku").set_index("sku")["unit_cost"]
    transfers = transfers.assign(value=transfers["qty"] * transfers["sku"].map(cost))
    transfers = transfers.sort_values("value", ascending=False, na_position="last")
    return [
        {**rec, "value": _num(rec["value"]), "qty": _num(rec["qty"])}
        for rec in transfers.to_dict("records")
    ]


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


# --------------------------------------------------------------------------------------------
# The embedded data for the table and drill-down
# --------------------------------------------------------------------------------------------


def _json_values(values: Any, precision: int = 3) -> str:
    """Compact JSON for a 1-D or 2-D numeric array: NaN -> null, rounded (pandas, fast C)."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        return pd.Series(array).to_json(orient="values", double_precision=precision)
    if array.size == 0:
        return json.dumps([[] for _ in range(array.shape[0])])
    return pd.DataFrame(array).to_json(orient="values", double_precision=precision)


def _pair_matrix(frame: pd.DataFrame, row_index: pd.MultiIndex, column: str,
                 weeks: list[str]) -> np.ndarray:
    """Scatter a long (dealer_id, sku, week_start, value) frame into a lines x weeks matrix."""
    matrix = np.full((len(row_index), len(weeks)), np.nan)
    if frame.empty or not weeks:
        return matrix
    rows = row_index.get_indexer(pd.MultiIndex.from_frame(frame[["dealer_id", "sku"]]))
    cols = pd.Index(weeks).get_indexer(frame["week_start"])
    keep = (rows >= 0) & (cols >= 0)
    matrix[rows[keep], cols[keep]] = frame[column].to_numpy(dtype=float)[keep]
    return matrix


def build_payload(run_dir: Path, lines: pd.DataFrame, alerts: pd.DataFrame) -> str:
    """The JSON text the page's script reads: column arrays, per-line series, alerts.

    Column-oriented arrays with dictionary-encoded dealers and categories keep the text small;
    history and forecast are lines x weeks matrices over one shared week axis.
    """
    row_index = pd.MultiIndex.from_frame(lines[["dealer_id", "sku"]])
    dealers = sorted(lines["dealer_id"].unique())
    dealer_pos = {d: i for i, d in enumerate(dealers)}
    names = lines.drop_duplicates("dealer_id").set_index("dealer_id")["dealer_name"]
    categories = sorted(lines["category"].unique())
    category_pos = {c: i for i, c in enumerate(categories)}
    classes = sorted(lines["demand_class"].unique())
    class_pos = {c: i for i, c in enumerate(classes)}

    # Alerts: one table, referenced from each line (pair alerts) or each dealer (dealer-wide).
    alert_types = sorted(alerts["alert_type"].unique()) if len(alerts) else []
    type_pos = {t: i for i, t in enumerate(alert_types)}
    alert_rows: list[list[Any]] = []
    line_alerts: list[list[int]] = [[] for _ in range(len(lines))]
    dealer_alerts: list[list[int]] = [[] for _ in dealers]
    if len(alerts):
        pair_pos = row_index.get_indexer(pd.MultiIndex.from_frame(alerts[["dealer_id", "sku"]]))
        for k, rec in enumerate(alerts.itertuples(index=False)):
            alert_rows.append([type_pos[rec.alert_type], SEVERITY_RANK.get(rec.severity, 2),
                               rec.message])
            if pair_pos[k] >= 0:
                line_alerts[pair_pos[k]].append(k)
            elif rec.sku == "" and rec.dealer_id in dealer_pos:
                dealer_alerts[dealer_pos[rec.dealer_id]].append(k)

    history = read_run_table(run_dir, "history")
    hist_weeks = sorted(history["week_start"].unique())[-HISTORY_WEEKS:]
    history = history[history["week_start"].isin(set(hist_weeks))]
    hist = _pair_matrix(history, row_index, "qty_sold", hist_weeks)
    censored = _pair_matrix(history.assign(flag=parse_bool(history["is_censored"]).astype(float)),
                            row_index, "flag", hist_weeks)
    # One '0'/'1' character per week: tiny once compressed.
    flags = np.where(censored == 1, ord("1"), ord("0")).astype(np.uint8)
    censored_text = [row.tobytes().decode("ascii") for row in flags]

    forecast = read_run_table(run_dir, "forecast")
    fc_weeks = sorted(forecast["week_start"].unique())
    yhat = _pair_matrix(forecast, row_index, "yhat", fc_weeks)
    lo = _pair_matrix(forecast, row_index, "yhat_lo", fc_weeks)
    hi = _pair_matrix(forecast, row_index, "yhat_hi", fc_weeks)

    parts = {
        "as_of": json.dumps(str(lines["as_of"].iloc[0]) if len(lines) else run_dir.name),
        "n": str(len(lines)),
        "dealers": json.dumps([[d, str(names.get(d, ""))] for d in dealers]),
        "categories": json.dumps(categories),
        "classes": json.dumps(classes),
        "alert_types": json.dumps(alert_types),
        "severities": json.dumps(list(SEVERITIES)),
        "alerts": json.dumps(alert_rows, separators=(",", ":")),
        "line_alerts": json.dumps(line_alerts, separators=(",", ":")),
        "dealer_alerts": json.dumps(dealer_alerts, separators=(",", ":")),
        "dealer": json.dumps(lines["dealer_id"].map(dealer_pos).tolist()),
        "sku": json.dumps(lines["sku"].tolist()),
        "description": json.dumps(lines["description"].tolist()),
        "category": json.dumps(lines["category"].map(category_pos).tolist()),
        "abc": json.dumps(lines["abc_class"].tolist()),
        "demand_class": json.dumps(lines["demand_class"].map(class_pos).tolist()),
        "model": json.dumps(lines["forecast_model"].tolist()),
        "reason": json.dumps(lines["reason"].tolist()),
        "hist_weeks": json.dumps(hist_weeks),
        "hist": _json_values(hist, 2),
        "censored": json.dumps(censored_text),
        "fc_weeks": json.dumps(fc_weeks),
        "yhat": _json_values(yhat, 2),
        "yhat_lo": _json_values(lo, 2),
        "yhat_hi": _json_values(hi, 2),
    }
    for column in LINE_NUMBERS:
        parts[column] = _json_values(lines[column], 4)
    return "{" + ",".join(f'"{key}":{text}' for key, text in parts.items()) + "}"


def encode_payload(text: str) -> str:
    """gzip + base64: what the page's `DecompressionStream('gzip')` unpacks."""
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=6)).decode("ascii")


def decode_payload(html: str) -> dict[str, Any]:
    """Inverse of the embedding, for tests and tools: the page's data blob as a dict."""
    start_tag = '<script type="application/octet-stream" id="vmi-data">'
    start = html.index(start_tag) + len(start_tag)
    end = html.index("</script>", start)
    return json.loads(gzip.decompress(base64.b64decode(html[start:end].strip())))


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["qty"] = _format_qty
    env.filters["money"] = _format_money
    env.filters["pct"] = _format_pct
    return env


def _format_qty(value: Any) -> str:
    number = _num(value)
    if number is None:
        return ""
    return f"{number:,.0f}" if float(number).is_integer() else f"{number:,.1f}"


def _format_money(value: Any) -> str:
    number = _num(value)
    return "" if number is None else f"{number:,.0f}"


def _format_pct(value: Any) -> str:
    number = _num(value)
    return "" if number is None else f"{100 * number:.0f}%"


def report_context(run_dir: Path) -> dict[str, Any]:
    """Everything the template renders, computed from the run folder (no HTML here)."""
    run_dir = Path(run_dir)
    summary = read_run_summary(run_dir)
    lines = lines_with_items(run_dir)
    alerts = read_run_table(run_dir, "alerts")
    exceptions = exceptions_frame(lines, alerts)
    # Imported here because compare reads run folders through this module.
    from planner.compare import compare_runs, find_previous_run

    previous = find_previous_run(run_dir)
    changes = None
    if previous is not None:
        change_summary, change_rows = compare_runs(previous, run_dir)
        changes = {
            "summary": change_summary,
            "rows": change_rows.head(MAX_CHANGE_ROWS).to_dict("records"),
            "more": max(0, len(change_rows) - MAX_CHANGE_ROWS),
        }
    return {
        "header": _run_header(run_dir, summary, lines, alerts),
        "freshness": _freshness(run_dir, lines, alerts),
        "exceptions": exceptions.head(MAX_EXCEPTION_ROWS).to_dict("records"),
        "exceptions_more": max(0, len(exceptions) - MAX_EXCEPTION_ROWS),
        "kpis": _kpis(run_dir, lines, alerts),
        "transfers": _transfers(run_dir, lines),
        "changes": changes,
        "payload": encode_payload(build_payload(run_dir, lines, alerts)),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def build_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html``, the planner's self-contained review page.

    Parameters
    ----------
    run_dir : Path
        A published run folder, ``OUT/runs/<as_of>/``. ``suggestions.csv`` is required; every
        other file is optional. When an earlier run folder sits beside it, the page gets a
        "Since last run" section and ``changes.csv`` is (re)written (see `planner.compare`).

    Returns
    -------
    Path
        The written ``report.html`` (written to a temporary name, then renamed into place).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "suggestions.csv").exists():
        raise FileNotFoundError(f"{run_dir / 'suggestions.csv'}: no suggestions in this run folder")
    context = report_context(run_dir)
    html = _environment().get_template("report.html.j2").render(**context)
    target = run_dir / "report.html"
    temp = run_dir / f".report.html.{os.getpid()}.tmp"
    temp.write_text(html, encoding="utf-8")
    os.replace(temp, target)
    return target


def report_summary_markdown(run_dir: Path, *, max_rows: int = 20) -> str:
    """A markdown summary of the run's exceptions, for a Prefect markdown artifact.

    Parameters
    ----------
    run_dir : Path
        A published run folder.
    max_rows : int
        How many exceptions (most severe, then highest value first) to list.

    Returns
    -------
    str
        Markdown: run header figures, alert counts by type and severity, the top exceptions
        and, when ``changes.csv`` exists, the since-last-run counts.
    """
    run_dir = Path(run_dir)
    summary = read_run_summary(run_dir)
    lines = lines_with_items(run_dir)
    alerts = read_run_table(run_dir, "alerts")
    head = _run_header(run_dir, summary, lines, alerts)
    out = [
        f"# VMI run {head['as_of']}",
        "",
        f"Run `{head['run_id']}`: {head['lines']:,} lines, {head['lines_ordered']:,} with an "
        f"order, {_format_qty(head['units'])} units worth {_format_money(head['value'])}; "
        f"{head['quarantined']:,} rows quarantined.",
        "",
        "| severity | alerts |",
        "|---|---:|",
        *[f"| {s} | {head['alerts'][s]:,} |" for s in SEVERITIES],
        "",
    ]
    if len(alerts):
        by_type = alerts.groupby(["alert_type", "severity"]).size().reset_index(name="n")
        out += ["| alert type | severity | count |", "|---|---|---:|"]
        out += [f"| {r.alert_type} | {r.severity} | {r.n:,} |"
                for r in by_type.itertuples(index=False)]
        out += ["", f"## Top {min(max_rows, len(alerts))} exceptions", "",
                "| severity | alert | dealer | sku | order value | message |",
                "|---|---|---|---|---:|---|"]
        for rec in exceptions_frame(lines, alerts).head(max_rows).itertuples(index=False):
            message = str(rec.message).replace("|", "\\|")
            out.append(f"| {rec.severity} | {rec.alert_type} | {rec.dealer_id} | {rec.sku} | "
                       f"{_format_money(rec.value)} | {message} |")
    else:
        out.append("No alerts in this run.")
    changes_path = run_dir / "changes.csv"
    if changes_path.exists():
        changes = pd.read_csv(changes_path, dtype=str, keep_default_na=False)
        counts = changes["change_type"].value_counts()
        out += ["", "## Since last run", "",
                ", ".join(f"{kind}: {int(counts.get(kind, 0))}"
                          for kind in ("alert_new", "alert_cleared", "qty_changed"))]
    return "\n".join(out) + "\n"
