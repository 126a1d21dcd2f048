"""The planner's review page: `report.html` for one published run folder.

The page is self-contained (no network): the CSS, a small vanilla-JS table and hand-drawn SVG
charts are inlined, and the line data travels as one gzip-compressed, base64-encoded JSON blob
that the browser unpacks with its built-in `DecompressionStream`. Only the rows on the visible
page of the table are turned into DOM nodes, so 20,000 lines stay fast; see docs/planner-guide.md
for why SVG and not plotly (plotly.js alone weighs 4.8 MB).

Everything here reads the run folder through `planner.run_folder` (DESIGN.md "Outputs" plus
the files publish adds: history, items, kpis, freshness, transfers); any optional file may be
missing. The figures the page shares with the markdown summary live in `planner.figures`.
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from forecasting.seasonality import season_offset
from planner.compare import compare_runs
from planner.figures import (
    exceptions_frame,
    format_money,
    format_pct,
    format_qty,
    freshness_rows,
    number,
    run_header,
)
from planner.run_folder import (
    REPORT_FILE,
    SEVERITIES,
    find_previous_run,
    lines_with_items,
    parse_bool,
    read_run_summary,
    read_run_table,
    table_path,
    write_atomic,
)
from replenishment.alerts import SEVERITY_ORDER
from replenishment.demand import FREQ, SEASON_LENGTH

TEMPLATES = Path(__file__).parent / "templates"

# Exceptions rendered as static HTML at the top; the rest stay reachable through the table's
# alert-type filter, which keeps the page small when a run raises thousands of alerts.
MAX_EXCEPTION_ROWS = 200
MAX_CHANGE_ROWS = 100
HISTORY_WEEKS = 104

# Headers of the KPIs the page has always shown; any other kpis.csv column is titled from its
# name (``fill_rate`` -> "Fill rate").
KPI_LABELS = {
    "days_of_inventory": "Days of inventory",
    "slow_moving_share": "Slow-moving share",
    "sell_through_rate": "Sell-through",
    "stockout_days": "Stockout days",
}
# Columns of kpis.csv that name the dealer or the run rather than measure the dealer.
NOT_KPIS = {"dealer_id", "run_id", "as_of"}

# Numeric columns the drill-down shows, in the order of the policy's arithmetic.
LINE_NUMBERS = [
    "on_hand", "in_transit", "on_order", "inventory_position", "avg_daily_demand",
    "lead_time_days", "lead_time_sd_days", "review_period_days", "protection_days",
    "demand_over_protection", "sigma_over_protection", "service_level", "z", "safety_stock",
    "order_up_to", "raw_need", "pack_size", "moq", "suggested_qty", "unit_cost", "value",
]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Page sections
# --------------------------------------------------------------------------------------------


def kpi_columns(kpis: pd.DataFrame) -> list[dict[str, str]]:
    """The KPI columns of ``kpis.csv`` in file order, each with its header and format.

    Every column but the dealer and the run's own ids is a KPI, so a column added to
    marts.fct_dealer_kpis reaches the page without a Python change. ``format`` is ``pct`` for
    shares and rates (``*_share``, ``*_rate``: 0.25 shows as 25%), ``number`` for any other
    column whose values are all numbers, ``text`` otherwise.
    """
    columns = []
    for name in kpis.columns:
        if name in NOT_KPIS:
            continue
        given = kpis[name].astype(str).str.strip().replace({"nan": ""}) != ""
        numeric = pd.to_numeric(kpis[name].where(given), errors="coerce").notna()
        if bool((numeric == given).all()):
            kind = "pct" if name.endswith(("_share", "_rate")) else "number"
        else:
            kind = "text"
        label = KPI_LABELS.get(name) or name.replace("_", " ").strip().capitalize()
        columns.append({"name": name, "label": label, "format": kind})
    return columns


def _kpis(run_dir: Path, lines: pd.DataFrame, alerts: pd.DataFrame) -> dict[str, Any]:
    """Per dealer: its lines, order value and alerts of this run, then every KPI of kpis.csv."""
    kpis = read_run_table(run_dir, "kpis").drop_duplicates("dealer_id", keep="last")
    columns = kpi_columns(kpis)
    kpis = kpis.set_index("dealer_id")
    per_dealer = lines.groupby("dealer_id").agg(
        dealer_name=("dealer_name", "first"),
        region=("region", "first"),
        lines=("sku", "size"),
        lines_ordered=("suggested_qty", lambda q: int((q.fillna(0) > 0).sum())),
        value=("value", "sum"),
    )
    critical = alerts[alerts["severity"] == "critical"].groupby("dealer_id").size()
    warning = alerts[alerts["severity"] == "warning"].groupby("dealer_id").size()
    rows = []
    for dealer in sorted(set(per_dealer.index) | set(kpis.index)):
        rec = per_dealer.loc[dealer] if dealer in per_dealer.index else None
        kpi = kpis.loc[dealer] if dealer in kpis.index else None
        values = {}
        for column in columns:
            value = None if kpi is None else kpi[column["name"]]
            values[column["name"]] = value if column["format"] == "text" else number(value)
        rows.append(
            {
                "dealer_id": dealer,
                "dealer_name": rec["dealer_name"] if rec is not None else "",
                "region": rec["region"] if rec is not None else "",
                "lines": int(rec["lines"]) if rec is not None else 0,
                "lines_ordered": int(rec["lines_ordered"]) if rec is not None else 0,
                "value": float(rec["value"]) if rec is not None else 0.0,
                "critical": int(critical.get(dealer, 0)),
                "warning": int(warning.get(dealer, 0)),
                "kpis": values,
            }
        )
    return {"columns": columns, "rows": rows}


def _transfers(run_dir: Path, lines: pd.DataFrame) -> list[dict]:
    transfers = read_run_table(run_dir, "transfers")
    if transfers.empty:
        return []
    cost = lines.drop_duplicates("sku").set_index("sku")["unit_cost"]
    transfers = transfers.assign(value=transfers["qty"] * transfers["sku"].map(cost))
    transfers = transfers.sort_values("value", ascending=False, na_position="last")
    return [
        {**rec, "value": number(rec["value"]), "qty": number(rec["qty"])}
        for rec in transfers.to_dict("records")
    ]


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


def _pair_matrix(
    frame: pd.DataFrame, row_index: pd.MultiIndex, column: str, weeks: list[str]
) -> np.ndarray:
    """Scatter a long (dealer_id, sku, week_start, value) frame into a lines x weeks matrix."""
    matrix = np.full((len(row_index), len(weeks)), np.nan)
    if frame.empty or not weeks:
        return matrix
    rows = row_index.get_indexer(pd.MultiIndex.from_frame(frame[["dealer_id", "sku"]]))
    cols = pd.Index(weeks).get_indexer(frame["week_start"])
    keep = (rows >= 0) & (cols >= 0)
    matrix[rows[keep], cols[keep]] = frame[column].to_numpy(dtype=float)[keep]
    return matrix


def season_factors(
    profiles: pd.DataFrame, row_index: pd.MultiIndex, weeks: list[str]
) -> np.ndarray:
    """The seasonal factor the forecaster used for each line and shown week (NaN: no profile).

    A week's position in the season is the forecaster's own (`season_offset`: weeks since its
    epoch, Monday 2000-01-03).
    """
    if profiles.empty or not weeks:
        return np.full((len(row_index), len(weeks)), np.nan)
    positions = [season_offset(week, FREQ) % SEASON_LENGTH for week in weeks]
    calendar = pd.DataFrame({"week_start": weeks, "season_position": positions})
    by_week = profiles.merge(calendar, on="season_position")
    return _pair_matrix(by_week, row_index, "factor", weeks)


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
            rank = SEVERITY_ORDER.get(rec.severity, len(SEVERITIES) - 1)
            alert_rows.append([type_pos[rec.alert_type], rank, rec.message])
            if pair_pos[k] >= 0:
                line_alerts[pair_pos[k]].append(k)
            elif rec.sku == "" and rec.dealer_id in dealer_pos:
                dealer_alerts[dealer_pos[rec.dealer_id]].append(k)

    history = read_run_table(run_dir, "history")
    hist_weeks = sorted(history["week_start"].unique())[-HISTORY_WEEKS:]
    history = history[history["week_start"].isin(set(hist_weeks))]
    hist = _pair_matrix(history, row_index, "qty_sold", hist_weeks)
    censored = _pair_matrix(
        history.assign(flag=parse_bool(history["is_censored"]).astype(float)),
        row_index,
        "flag",
        hist_weeks,
    )
    # One '0'/'1' character per week: tiny once compressed.
    flags = np.where(censored == 1, ord("1"), ord("0")).astype(np.uint8)
    censored_text = [row.tobytes().decode("ascii") for row in flags]

    forecast = read_run_table(run_dir, "forecast")
    fc_weeks = sorted(forecast["week_start"].unique())
    yhat = _pair_matrix(forecast, row_index, "yhat", fc_weeks)
    lo = _pair_matrix(forecast, row_index, "yhat_lo", fc_weeks)
    hi = _pair_matrix(forecast, row_index, "yhat_hi", fc_weeks)
    chart_weeks = list(hist_weeks) + [w for w in fc_weeks if w not in set(hist_weeks)]
    season = season_factors(read_run_table(run_dir, "seasonality"), row_index, chart_weeks)

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
        "season": _json_values(season, 3),
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
    env.filters["qty"] = format_qty
    env.filters["money"] = format_money
    env.filters["pct"] = format_pct
    env.filters["kpi"] = _format_kpi
    return env


def _format_kpi(value: Any, kind: str) -> str:
    """A KPI cell by its column's format (see `kpi_columns`)."""
    if kind == "pct":
        return format_pct(value)
    if kind == "number":
        return format_qty(value)
    return "" if value is None else str(value)


def report_context(run_dir: Path) -> dict[str, Any]:
    """Everything the template renders, computed from the run folder (no HTML here)."""
    run_dir = Path(run_dir)
    summary = read_run_summary(run_dir)
    lines = lines_with_items(run_dir)
    alerts = read_run_table(run_dir, "alerts")
    exceptions = exceptions_frame(lines, alerts)
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
        "header": run_header(run_dir, summary, lines, alerts),
        "freshness": freshness_rows(run_dir, lines, alerts),
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
    suggestions = table_path(run_dir, "suggestions")
    if not suggestions.exists():
        raise FileNotFoundError(f"{suggestions}: no suggestions in this run folder")
    context = report_context(run_dir)
    html = _environment().get_template("report.html.j2").render(**context)
    return write_atomic(run_dir / REPORT_FILE, lambda temp: temp.write_text(html, "utf-8"))
