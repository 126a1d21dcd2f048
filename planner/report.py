"""The planner's review page: `report.html` for one published run folder.

The page is self-contained (no network): the CSS, a small vanilla-JS table, hand-drawn SVG
charts for the drill-down and Chart.js (pinned in package.json, copied to
``planner/static/vendor/`` by ``make assets``) for the front-page charts are inlined. The line
data travels as one gzip-compressed, base64-encoded JSON blob that the browser unpacks with its
built-in `DecompressionStream`; the front-page chart figures as a small JSON script element
with ``<``, ``>`` and ``&`` escaped, so no value can close the script. A big network's page
embeds only the lines reviewed first (`embedded_lines`: the most valuable and the alerted
ones, `MAX_EMBEDDED_LINES` at most) and says how many it leaves to the workbench; the header,
charts, exceptions and KPIs still count every line. Only the rows on the visible page of the
table are turned into DOM nodes, so 20,000 lines stay fast; see
docs/planner-guide.md for why SVG in the drill-down and not plotly (plotly.js alone weighs
4.8 MB). Without the Chart.js file the page still builds, shows everything else and says how to
get the charts.

Everything here reads the run folder through `planner.run_folder` (DESIGN.md "Outputs" plus
the files publish adds: history, items, kpis, freshness, transfers, actions, tier_proposals);
any optional file may be missing. The figures the page shares with the markdown summary live
in `planner.figures`.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from forecasting.seasonality import season_offset
from planner.compare import CHANGE_TYPES, compare_runs
from planner.figures import (
    exceptions_by_type,
    exceptions_frame,
    format_money,
    format_pct,
    format_qty,
    freshness_rows,
    network_health,
    number,
    run_header,
    run_trend,
)
from planner.run_folder import (
    APPROVAL_FILE,
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
# Chart.js, copied from node_modules by `make assets` (package.json pins the version).
CHART_JS = Path(__file__).parent / "static" / "vendor" / "chart.umd.min.js"

# Exceptions rendered as static HTML; the rest stay reachable through the table's alert-type
# filter, which keeps the page small when a run raises thousands of alerts.
MAX_EXCEPTION_ROWS = 200
# The page carries the lines a planner reviews first, not every line of a big network (the
# workbench, `vmi serve-web`, pages through all of them): a run with at most
# MAX_EMBEDDED_LINES lines embeds them all; a bigger one the TOP_VALUE_LINES of highest order
# value, the lines of the exceptions listed, then the lines with an alert of EMBED_SEVERITIES
# (most severe, then most valuable first), MAX_EMBEDDED_LINES in all. About 190 bytes a line
# (its numbers, reason, 104 weeks of history, forecast and interval), so at most ~1 MB.
MAX_EMBEDDED_LINES = 5_000
TOP_VALUE_LINES = 500
EMBED_SEVERITIES = ("critical", "warning")
# "Since last run" lists the largest changes of each type (by value); changes.csv has all.
MAX_CHANGE_ROWS_PER_TYPE = 100
# Dealers in the network-health chart: the least covered relative to their target.
MAX_HEALTH_DEALERS = 30
# Excess-stock actions listed (largest stock value first); actions.csv has all.
MAX_ACTION_ROWS = 100
HISTORY_WEEKS = 104

# Approval marks per line (payload `decision`): no decision, approved as suggested, quantity
# changed, held.
DECISION_NONE, DECISION_APPROVED, DECISION_CHANGED, DECISION_HELD = 0, 1, 2, 3

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


def _actions(run_dir: Path) -> dict:
    """The excess-stock remedies (actions.csv), largest stock value first, with totals."""
    actions = read_run_table(run_dir, "actions")
    if actions.empty:
        return {"rows": [], "more": 0, "by_action": []}
    by_action = actions.groupby("action").agg(
        lines=("qty", "size"), qty=("qty", "sum"), value=("value", "sum"), cost=("cost", "sum")
    )
    actions = actions.sort_values(["value", "dealer_id", "sku"], ascending=[False, True, True])
    return {
        "rows": actions.head(MAX_ACTION_ROWS).to_dict("records"),
        "more": max(0, len(actions) - MAX_ACTION_ROWS),
        "by_action": by_action.reset_index().to_dict("records"),
    }


def _tier_proposals(run_dir: Path) -> list[dict]:
    """The tier, rebate and credit proposal per dealer (tier_proposals.csv), changes first."""
    proposals = read_run_table(run_dir, "tier_proposals")
    if proposals.empty:
        return []
    order = proposals["current_tier"] == proposals["proposed_tier"]
    proposals = proposals.assign(_same=order).sort_values(["_same", "dealer_id"], kind="stable")
    return proposals.drop(columns="_same").to_dict("records")


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


def line_decisions(run_dir: Path, lines: pd.DataFrame) -> pd.DataFrame:
    """The last approval's decision per line, aligned with ``lines`` (from decisions.csv).

    Returns ``decision`` (`DECISION_NONE` ... `DECISION_HELD`), ``approved_qty`` (NaN without
    a decision), ``note`` (internal) and ``dealer_note``; all "none" when the run has not been
    approved.
    """
    decisions = read_run_table(run_dir, "decisions").drop_duplicates(
        ["dealer_id", "sku"], keep="last"
    )
    columns = ["dealer_id", "sku", "approved_qty", "suggested_qty", "is_held", "note"]
    merged = lines[["dealer_id", "sku"]].merge(
        decisions[[*columns, "dealer_note"]].rename(columns={"suggested_qty": "decided_from"}),
        on=["dealer_id", "sku"],
        how="left",
        indicator=True,
    )
    decided = (merged["_merge"] == "both").to_numpy()
    held = parse_bool(merged["is_held"].fillna("")).to_numpy()
    approved = merged["approved_qty"].to_numpy(dtype=float)
    suggested = merged["decided_from"].fillna(0.0).to_numpy(dtype=float)
    changed = ~np.isclose(np.nan_to_num(approved), suggested)
    code = np.select(
        [~decided, held, changed],
        [DECISION_NONE, DECISION_HELD, DECISION_CHANGED],
        default=DECISION_APPROVED,
    )
    return pd.DataFrame(
        {
            "decision": code.astype(int),
            "approved_qty": np.where(decided, approved, np.nan),
            "note": merged["note"].fillna("").astype(str).to_numpy(),
            "dealer_note": merged["dealer_note"].fillna("").astype(str).to_numpy(),
        },
        index=lines.index,
    )


def approval_header(run_dir: Path, decisions: pd.DataFrame) -> dict[str, Any] | None:
    """Who approved the run and when, with its counts (approval.json), or None if not approved."""
    path = Path(run_dir) / APPROVAL_FILE
    if not path.exists() and not (decisions["decision"] != DECISION_NONE).any():
        return None
    approval = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    codes = decisions["decision"]
    approved_at = str(approval.get("approved_at") or "")
    try:
        stamp = pd.Timestamp(approved_at)
        if stamp.tzinfo is not None:
            approved_at = stamp.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        pass
    return {
        "approval_id": str(approval.get("approval_id") or ""),
        "approved_by": str(approval.get("approved_by") or ""),
        "approved_at": approved_at,
        "approved": int((codes == DECISION_APPROVED).sum()),
        "changed": int((codes == DECISION_CHANGED).sum()),
        "held": int((codes == DECISION_HELD).sum()),
        "units": float(decisions["approved_qty"].fillna(0.0).sum()),
    }


def embedded_lines(
    lines: pd.DataFrame, exceptions: pd.DataFrame, *, limit: int | None = MAX_EMBEDDED_LINES
) -> np.ndarray:
    """Which of ``lines`` the page embeds, as a boolean mask over them.

    Every line when there are at most ``limit`` (None: no limit). Otherwise, in this order
    until ``limit`` lines: the `TOP_VALUE_LINES` of highest order value, the lines of the
    exceptions listed (the first `MAX_EXCEPTION_ROWS` of ``exceptions``, `exceptions_frame`'s
    order) and the lines with an alert of `EMBED_SEVERITIES`, most severe and most valuable
    first. The lines keep their order in ``lines``.
    """
    if limit is None or len(lines) <= limit:
        return np.ones(len(lines), dtype=bool)
    pair = ["dealer_id", "sku"]
    by_value = lines.sort_values("value", ascending=False, kind="stable").head(TOP_VALUE_LINES)
    listed = exceptions.head(MAX_EXCEPTION_ROWS)
    listed = listed[listed["sku"] != ""]
    alerted = exceptions[exceptions["severity"].isin(EMBED_SEVERITIES) & (exceptions["sku"] != "")]
    index = pd.MultiIndex.from_frame(lines[pair])
    chosen = pd.MultiIndex.from_frame(pd.concat([by_value[pair], listed[pair], alerted[pair]]))
    chosen = chosen[chosen.isin(index)].drop_duplicates()[:limit]
    return index.isin(chosen)


def build_payload(
    run_dir: Path,
    lines: pd.DataFrame,
    alerts: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    decisions: pd.DataFrame | None = None,
    total: int | None = None,
) -> str:
    """The JSON text the page's script reads: column arrays, per-line series, alerts.

    Column-oriented arrays with dictionary-encoded dealers and categories keep the text small;
    history and forecast are lines x weeks matrices over one shared week axis. ``history``
    (history.csv) and ``decisions`` (`line_decisions`) are read from the folder when not given.
    ``lines`` are the lines embedded (`embedded_lines`), ``total`` (``n_total``) the run's
    number of lines (default: ``len(lines)``); only the alerts of those lines and dealers are
    carried, the alert types of every alert.
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
        for pos, rec in zip(pair_pos, alerts.itertuples(index=False), strict=True):
            if pos >= 0:
                line_alerts[pos].append(len(alert_rows))
            elif rec.sku == "" and rec.dealer_id in dealer_pos:
                dealer_alerts[dealer_pos[rec.dealer_id]].append(len(alert_rows))
            else:
                continue
            rank = SEVERITY_ORDER.get(rec.severity, len(SEVERITIES) - 1)
            alert_rows.append([type_pos[rec.alert_type], rank, rec.message])

    if history is None:
        history = read_run_table(run_dir, "history")
    if decisions is None:
        decisions = line_decisions(run_dir, lines)
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
        "n_total": str(len(lines) if total is None else int(total)),
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
        "decision": json.dumps(decisions["decision"].tolist()),
        "approved_qty": _json_values(decisions["approved_qty"], 4),
        "note": json.dumps(decisions["note"].tolist()),
        "dealer_note": json.dumps(decisions["dealer_note"].tolist()),
    }
    for column in LINE_NUMBERS:
        parts[column] = _json_values(lines[column], 4)
    # With master/supply.csv the lines carry allocated_qty: what can ship of the suggestion.
    suggested = lines["suggested_qty"].fillna(0)
    allocated = lines["allocated_qty"].fillna(0) if "allocated_qty" in lines else suggested
    parts["allocated_qty"] = _json_values(allocated, 4)
    parts["has_allocation"] = json.dumps(bool((allocated != suggested).any()))
    return "{" + ",".join(f'"{key}":{text}' for key, text in parts.items()) + "}"


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON has neither)."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no value can end the element.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e`` and ``\\u0026`` (the same string to
    `JSON.parse`), so neither ``</script>`` nor ``<!--`` can appear; U+2028/U+2029 are
    escaped too.
    """
    text = json.dumps(_finite(value), separators=(",", ":"), allow_nan=False, default=str)
    for raw, escaped in (
        ("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
        ("\u2028", "\\u2028"), ("\u2029", "\\u2029"),
    ):  # fmt: skip
        text = text.replace(raw, escaped)
    return text


def chart_library(path: Path | None = None) -> str | None:
    """Chart.js's source to inline in a ``<script>``, or None when `make assets` has not run.

    Any ``</script`` or ``<!--`` (there is none in Chart.js 4) is escaped so that the inlined
    code cannot end its element early.
    """
    path = CHART_JS if path is None else path
    if not path.is_file():
        return None
    code = path.read_text(encoding="utf-8")
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE).replace("<!--", "<\\!--")


def encode_payload(text: str) -> str:
    """gzip + base64: what the page's `DecompressionStream('gzip')` unpacks."""
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=6)).decode("ascii")


def decode_payload(html: str) -> dict[str, Any]:
    """Inverse of the embedding, for tests and tools: the page's data blob as a dict."""
    start_tag = '<script type="application/octet-stream" id="vmi-data">'
    start = html.index(start_tag) + len(start_tag)
    end = html.index("</script>", start)
    return json.loads(gzip.decompress(base64.b64decode(html[start:end].strip())))


def decode_charts(html: str) -> dict[str, Any]:
    """The front-page chart figures embedded in a page, for tests and tools."""
    start_tag = '<script type="application/json" id="vmi-charts">'
    start = html.index(start_tag) + len(start_tag)
    end = html.index("</script>", start)
    return json.loads(html[start:end])


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


def _changes(run_dir: Path) -> dict[str, Any] | None:
    """ "Since last run": the summary, and the largest changes of each type, by value."""
    previous = find_previous_run(run_dir)
    if previous is None:
        return None
    summary, changes = compare_runs(previous, run_dir)
    shown = changes.groupby("change_type", sort=False).head(MAX_CHANGE_ROWS_PER_TYPE)
    counts = changes["change_type"].value_counts()
    types = [
        {
            "name": kind,
            "total": int(counts[kind]),
            "shown": int((shown["change_type"] == kind).sum()),
        }
        for kind in CHANGE_TYPES
        if kind in counts
    ]
    rows = [
        {**rec, "value": number(rec["value"])}
        for rec in shown.drop(columns=["pct_change"]).to_dict("records")
    ]
    return {"summary": summary, "rows": rows, "types": types, "total": len(changes)}


def chart_figures(
    run_dir: Path,
    as_of: str,
    lines: pd.DataFrame,
    exceptions: pd.DataFrame,
    history: pd.DataFrame,
) -> dict[str, Any]:
    """The figures of the front-page charts (`planner.figures`), as the page's script reads them."""
    health = network_health(lines)
    return {
        "as_of": str(as_of),
        "severities": list(SEVERITIES),
        "health": health[:MAX_HEALTH_DEALERS],
        "health_total": len(health),
        "exceptions": exceptions_by_type(exceptions),
        "trend": run_trend(run_dir, str(as_of), lines, history),
    }


def report_context(
    run_dir: Path, *, chart_js: Path | None = None, max_lines: int | None = MAX_EMBEDDED_LINES
) -> dict[str, Any]:
    """Everything the template renders, computed from the run folder (no HTML here).

    ``chart_js`` overrides where Chart.js is read from (default `CHART_JS`); ``max_lines``
    caps the lines embedded (`embedded_lines`; None: all). The header, charts, exceptions and
    KPIs are computed over every line either way.
    """
    run_dir = Path(run_dir)
    summary = read_run_summary(run_dir)
    lines = lines_with_items(run_dir)
    alerts = read_run_table(run_dir, "alerts")
    history = read_run_table(run_dir, "history")
    exceptions = exceptions_frame(lines, alerts)
    decisions = line_decisions(run_dir, lines)
    header = run_header(run_dir, summary, lines, alerts)
    charts = chart_figures(run_dir, str(header["as_of"]), lines, exceptions, history)
    keep = embedded_lines(lines, exceptions, limit=max_lines)
    payload = build_payload(
        run_dir,
        lines[keep].reset_index(drop=True),
        alerts,
        history=history,
        decisions=decisions[keep].reset_index(drop=True),
        total=len(lines),
    )
    return {
        "header": header,
        "approval": approval_header(run_dir, decisions),
        "failed_nights": summary.get("failed_nights") or [],
        "freshness": freshness_rows(run_dir, lines, alerts),
        "exceptions": exceptions.head(MAX_EXCEPTION_ROWS).to_dict("records"),
        "exceptions_more": max(0, len(exceptions) - MAX_EXCEPTION_ROWS),
        "kpis": _kpis(run_dir, lines, alerts),
        "transfers": _transfers(run_dir, lines),
        "actions": _actions(run_dir),
        "tier_proposals": _tier_proposals(run_dir),
        "changes": _changes(run_dir),
        "charts": script_json(charts),
        "charts_meta": {
            "health_total": charts["health_total"],
            "health_shown": len(charts["health"]),
            "trend_runs": len(charts["trend"]),
        },
        "max_change_rows": MAX_CHANGE_ROWS_PER_TYPE,
        "embedded": {
            "lines": int(keep.sum()),
            "total": len(lines),
            "left_out": len(lines) - int(keep.sum()),
            "top_value": TOP_VALUE_LINES,
            "limit": max_lines,
        },
        "chart_js": chart_library(chart_js),
        "payload": encode_payload(payload),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def build_report(
    run_dir: Path, *, chart_js: Path | None = None, max_lines: int | None = MAX_EMBEDDED_LINES
) -> Path:
    """Write ``run_dir/report.html``, the planner's self-contained review page.

    Parameters
    ----------
    run_dir : Path
        A published run folder, ``OUT/runs/<as_of>/``. ``suggestions.csv`` is required; every
        other file is optional. When an earlier run folder sits beside it, the page gets a
        "Since last run" section and ``changes.csv`` is (re)written (see `planner.compare`).
        When the run has been approved (``decisions.csv``, ``approval.json``), the lines carry
        their approved, changed and held marks.
    chart_js : Path, optional
        Chart.js to inline (default `CHART_JS`); a missing file gives a page without the
        front-page charts that says how to get them (``make assets``).
    max_lines : int, optional
        The most lines the page embeds with their series (`embedded_lines`); the page says
        how many it leaves to the workbench. None: every line.

    Returns
    -------
    Path
        The written ``report.html`` (written to a temporary name, then renamed into place).
    """
    run_dir = Path(run_dir)
    suggestions = table_path(run_dir, "suggestions")
    if not suggestions.exists():
        raise FileNotFoundError(f"{suggestions}: no suggestions in this run folder")
    context = report_context(run_dir, chart_js=chart_js, max_lines=max_lines)
    html = _environment().get_template("report.html.j2").render(**context)
    return write_atomic(run_dir / REPORT_FILE, lambda temp: temp.write_text(html, "utf-8"))
