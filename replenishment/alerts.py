"""Safety-stock and data-quality alerts, one small rule per alert type.

Every rule is a function registered with ``@alert_rule("<alert_type>")`` in `ALERT_RULES`. It
receives the run's inputs (`AlertInputs`) and its own section of the policy file
(``alerts.<alert_type>`` in policy.yml) and returns the rows that fire, with
``dealer_id, sku, metric, threshold, message`` and optionally ``severity``; `build_alerts`
adds the run columns. To add an alert: add its thresholds to `config.Alerts` and policy.yml,
then write one decorated function here (docs/replenishment.md has a worked example).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from replenishment.config import PolicyConfig

ALERT_COLUMNS = [
    "run_id", "as_of", "alert_type", "severity", "dealer_id", "sku", "metric", "threshold",
    "message",
]  # fmt: skip
_RULE_COLUMNS = ["severity", "dealer_id", "sku", "metric", "threshold", "message"]
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class AlertInputs:
    """What a rule may look at. Frames that a run does not have are empty, never None."""

    suggestions: pd.DataFrame
    freshness: pd.DataFrame
    sales_exceptions: pd.DataFrame
    rejected_files: pd.DataFrame
    accuracy: pd.DataFrame
    last_sales: pd.DataFrame
    config: PolicyConfig
    as_of: date
    restatements: pd.DataFrame = field(default_factory=pd.DataFrame)
    escalation: pd.DataFrame = field(default_factory=pd.DataFrame)


AlertRule = Callable[[AlertInputs, object], pd.DataFrame]
ALERT_RULES: dict[str, AlertRule] = {}


def alert_rule(alert_type: str) -> Callable[[AlertRule], AlertRule]:
    """Register a rule under `alert_type`; its thresholds live in ``config.alerts.<alert_type>``."""

    def register(rule: AlertRule) -> AlertRule:
        if alert_type in ALERT_RULES:
            raise ValueError(f"alert rule {alert_type!r} is registered twice")
        ALERT_RULES[alert_type] = rule
        return rule

    return register


def build_alerts(
    suggestions: pd.DataFrame,
    *,
    freshness: pd.DataFrame | None = None,
    sales_exceptions: pd.DataFrame | None = None,
    rejected_files: pd.DataFrame | None = None,
    accuracy: pd.DataFrame | None = None,
    last_sales: pd.DataFrame | None = None,
    restatements: pd.DataFrame | None = None,
    escalation: pd.DataFrame | None = None,
    config: PolicyConfig,
    run_id: str,
    as_of: date,
) -> pd.DataFrame:
    """Run every enabled alert rule and return DESIGN.md ``alerts.csv`` rows.

    Parameters
    ----------
    suggestions
        Output of `replenishment.policy.compute_suggestions`.
    freshness
        ``dealer_id, feed, last_report_date, days_since_report`` (marts.fct_feed_freshness).
    sales_exceptions
        Sale rows of marts.fct_sales_exceptions (``dealer_id, sku, date, qty_sold, unit_price,
        customer_region, territory, list_price, is_cross_territory, price_deviation_pct``).
    rejected_files
        ``path, feed, reason`` and optionally ``dealer_id`` of files rejected this run.
    accuracy
        ``dealer_id, sku, bias`` and optionally ``n_obs, model`` from the forecast backtest;
        bias is relative, positive when the forecast ran above actual sales.
    last_sales
        ``dealer_id, sku, last_sale_date`` (optionally ``first_sale_date``).
    restatements
        Dealer-days this run restated without some SKUs of the delivery they replace
        (`warehouse.restatements.partial_restatements`: ``file, dealer_id, date,
        previous_file, skus_previous, skus_delivered, skus_dropped, dropped_skus``).
    escalation
        ``dealer_id, quarter_start, state`` and optionally ``tier, score, quarters_below`` per
        dealer and scored quarter (marts.fct_dealer_escalation_quarterly).
    config
        Policy configuration; ``config.alerts.<type>.enabled: false`` switches a rule off.
    run_id, as_of
        Copied onto every row.

    Returns
    -------
    pandas.DataFrame
        ``run_id, as_of, alert_type, severity, dealer_id, sku, metric, threshold, message``,
        critical first, then by alert type, dealer and SKU. ``sku`` is empty for dealer- or
        file-level alerts, ``metric``/``threshold`` empty where no number applies.
    """
    inputs = AlertInputs(
        suggestions=suggestions,
        freshness=_frame(freshness),
        sales_exceptions=_frame(sales_exceptions),
        rejected_files=_frame(rejected_files),
        accuracy=_frame(accuracy),
        last_sales=_frame(last_sales),
        config=config,
        as_of=as_of,
        restatements=_frame(restatements),
        escalation=_frame(escalation),
    )
    parts = []
    for alert_type, rule in ALERT_RULES.items():
        settings = getattr(config.alerts, alert_type)
        if not settings.enabled:
            continue
        fired = rule(inputs, settings)
        if fired.empty:
            continue
        fired = fired.copy()
        if "severity" not in fired:
            fired["severity"] = settings.severity
        fired["alert_type"] = alert_type
        parts.append(fired)
    if not parts:
        return _empty_alerts()
    alerts = pd.concat(parts, ignore_index=True)
    alerts.insert(0, "run_id", run_id)
    alerts.insert(1, "as_of", as_of)
    alerts["metric"] = pd.to_numeric(alerts["metric"], errors="coerce").astype(float)
    alerts["threshold"] = pd.to_numeric(alerts["threshold"], errors="coerce").astype(float)
    alerts["_rank"] = alerts["severity"].map(SEVERITY_ORDER)
    alerts = alerts.sort_values(
        ["_rank", "alert_type", "dealer_id", "sku"], na_position="first", kind="stable"
    )
    return alerts[ALERT_COLUMNS].reset_index(drop=True)


def _empty_alerts() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in ALERT_COLUMNS})
    return frame.astype({"metric": float, "threshold": float})


def _frame(value: pd.DataFrame | None) -> pd.DataFrame:
    return value if value is not None else pd.DataFrame()


def _fired(frame: pd.DataFrame, metric, threshold, message, severity=None) -> pd.DataFrame:  # noqa: ANN001
    """Rule output from a frame of firing rows (scalars broadcast)."""
    out = pd.DataFrame(
        {
            "dealer_id": frame["dealer_id"] if "dealer_id" in frame else None,
            "sku": frame["sku"] if "sku" in frame else None,
            "metric": metric,
            "threshold": threshold,
            "message": message,
        },
        index=frame.index,
    )
    if severity is not None:
        out["severity"] = severity
    return out


def _n(value: float, decimals: int = 1, thousands: str = "") -> str:
    """Number for a message: no trailing .0; `thousands=","` groups the digits."""
    if value is None or pd.isna(value):
        return "n/a"
    text = f"{float(value):{thousands}.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _days_since(dates: pd.Series, as_of: date) -> pd.Series:
    return (pd.Timestamp(as_of) - pd.to_datetime(dates)).dt.days.astype(float)


def _recent(sales: pd.DataFrame, as_of: date, lookback_days: float) -> pd.DataFrame:
    when = pd.to_datetime(sales["date"])
    start = pd.Timestamp(as_of) - timedelta(days=float(lookback_days))
    return sales[(when > start) & (when <= pd.Timestamp(as_of))]


# --- stock rules (read the suggestions) ---------------------------------------------------


@alert_rule("stockout")
def stockout(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """Nothing on the shelf while the forecast says it sells."""
    s = inputs.suggestions
    hit = s[(s["on_hand"] <= 0) & (s["avg_daily_demand"] > 0)]
    message = [
        f"{r.dealer_id} {r.sku}: out of stock ({_n(r.on_hand)} on hand) while forecast demand "
        f"is {_n(r.avg_daily_demand, 2)}/day; {_n(r.in_transit)} in transit, "
        f"{_n(r.on_order)} on order, suggested order {int(r.suggested_qty)}."
        for r in hit.itertuples()
    ]
    return _fired(hit, hit["on_hand"], 0.0, message)


@alert_rule("stockout_risk")
def stockout_risk(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """Stock will run out before a shipment ordered today could arrive.

    Fires when the inventory position is below the demand over the lead time; critical when it
    covers less than `critical_cover_share` of it. Pairs already out of stock raise `stockout`.
    """
    s = inputs.suggestions
    daily = s["avg_daily_demand"]
    lead_demand = daily * s["lead_time_days"]
    hit = s[(s["on_hand"] > 0) & (daily > 0) & (s["inventory_position"] < lead_demand)]
    cover = hit["inventory_position"].clip(lower=0) / hit["avg_daily_demand"]
    critical = hit["inventory_position"] < cfg.critical_cover_share * lead_demand[hit.index]
    severity = np.where(critical, "critical", cfg.severity)
    message = [
        f"{r.dealer_id} {r.sku}: position {_n(r.inventory_position)} covers {_n(c)} days at "
        f"{_n(r.avg_daily_demand, 2)}/day, less than the {_n(r.lead_time_days)}-day lead time; "
        f"stock-out expected around {inputs.as_of + timedelta(days=float(c))}, before a new "
        f"shipment can arrive."
        for r, c in zip(hit.itertuples(), cover, strict=True)
    ]
    return _fired(hit, cover, hit["lead_time_days"], message, severity)


@alert_rule("below_safety_stock")
def below_safety_stock(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """Stock on the shelf has dipped into the safety stock (but is not out)."""
    s = inputs.suggestions
    hit = s[(s["on_hand"] > 0) & (s["safety_stock"] > 0) & (s["on_hand"] < s["safety_stock"])]
    message = [
        f"{r.dealer_id} {r.sku}: {_n(r.on_hand)} on hand is below the safety stock of "
        f"{_n(r.safety_stock)}; position {_n(r.inventory_position)} against order-up-to "
        f"{_n(r.order_up_to)}, suggested order {int(r.suggested_qty)}."
        for r in hit.itertuples()
    ]
    return _fired(hit, hit["on_hand"], hit["safety_stock"], message)


@alert_rule("overstock")
def overstock(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """Position far above order-up-to: more than a pack over, and over by either
    `excess_weeks_of_demand` weeks of demand or more than `max_days_of_cover` days of cover."""
    s = inputs.suggestions
    daily = s["avg_daily_demand"]
    excess = s["inventory_position"] - s["order_up_to"]
    limit = s["order_up_to"] + cfg.excess_weeks_of_demand * 7 * daily
    cover = s["inventory_position"] / daily.where(daily > 0)
    hit_mask = (
        (daily > 0)
        & (excess > s["pack_size"])
        & ((s["inventory_position"] > limit) | (cover > cfg.max_days_of_cover))
    )
    hit = s[hit_mask]
    message = [
        f"{r.dealer_id} {r.sku}: position {_n(r.inventory_position)} is {_n(e)} above "
        f"order-up-to {_n(r.order_up_to)}, {_n(c, 0)} days of cover at "
        f"{_n(r.avg_daily_demand, 2)}/day (limits: {_n(cfg.excess_weeks_of_demand)} weeks of "
        f"demand above order-up-to = {_n(lim)}, or {_n(cfg.max_days_of_cover)} days)."
        for r, e, c, lim in zip(
            hit.itertuples(), excess[hit_mask], cover[hit_mask], limit[hit_mask], strict=True
        )
    ]
    return _fired(hit, hit["inventory_position"], limit[hit_mask], message)


def _days_without_sale(inputs: AlertInputs) -> pd.DataFrame:
    """Stocked pairs with the days since their last sale (NaN: listed but never sold)."""
    s = inputs.suggestions
    stocked = s.loc[s["on_hand"] > 0, ["dealer_id", "sku", "on_hand"]]
    if inputs.last_sales.empty or stocked.empty:
        return stocked.iloc[0:0].assign(days=pd.Series(dtype=float))
    last = inputs.last_sales[["dealer_id", "sku", "last_sale_date"]]
    # Inner join: a pair absent from last_sales is unknown, not "never sold".
    joined = stocked.merge(last, on=["dealer_id", "sku"], how="inner")
    joined["days"] = _days_since(joined["last_sale_date"], inputs.as_of)
    return joined


@alert_rule("slow_moving")
def slow_moving(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """Stock but no sale for `no_sale_days` (up to the dead-stock limit), or never sold."""
    joined = _days_without_sale(inputs)
    dead_after = inputs.config.alerts.dead_stock.no_sale_days
    hit = joined[
        ((joined["days"] >= cfg.no_sale_days) & (joined["days"] < dead_after))
        | joined["days"].isna()
    ]
    message = [
        f"{r.dealer_id} {r.sku}: {_n(r.on_hand)} on hand and "
        + (
            f"no sale for {_n(r.days, 0)} days (last {pd.Timestamp(r.last_sale_date).date()})."
            if pd.notna(r.days)
            else "no sale on record."
        )
        for r in hit.itertuples()
    ]
    return _fired(hit, hit["days"], cfg.no_sale_days, message)


@alert_rule("dead_stock")
def dead_stock(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """Stock and no sale for `no_sale_days` or more."""
    joined = _days_without_sale(inputs)
    hit = joined[joined["days"] >= cfg.no_sale_days]
    message = [
        f"{r.dealer_id} {r.sku}: {_n(r.on_hand)} on hand and no sale for {_n(r.days, 0)} days "
        f"(last {pd.Timestamp(r.last_sale_date).date()}); consider a transfer or a return."
        for r in hit.itertuples()
    ]
    return _fired(hit, hit["days"], cfg.no_sale_days, message)


# --- feed rules ----------------------------------------------------------------------------


def feed_lateness(freshness: pd.DataFrame, config: PolicyConfig) -> pd.DataFrame:
    """The one freshness test: per (dealer, feed) row, its limit, days late and whether it is late.

    Returns `limit` (days, per-dealer override or default; inf = never checked), `days` (days
    since the last report), `never` (no report at all) and `is_late` (never reported, or older
    than a finite limit), indexed like `freshness`.
    """
    pairs = zip(freshness["dealer_id"], freshness["feed"], strict=True)
    limit = pd.Series(
        [config.freshness_threshold(d, feed) for d, feed in pairs],
        index=freshness.index,
        dtype=float,
    )
    days = pd.to_numeric(freshness["days_since_report"], errors="coerce")
    never = freshness["last_report_date"].isna() | days.isna()
    is_late = np.isfinite(limit) & (never | (days > limit))
    return pd.DataFrame({"limit": limit, "days": days, "never": never, "is_late": is_late})


def stale_dealers(freshness: pd.DataFrame, config: PolicyConfig) -> pd.DataFrame:
    """Dealers with a reported feed older than its limit: `dealer_id, is_stale, stale_days`.

    A feed never reported raises `stale_feed` but gives no days late, so it does not mark the
    dealer's suggestions as resting on old data.
    """
    if freshness.empty:
        return pd.DataFrame(columns=["dealer_id", "is_stale", "stale_days"])
    lateness = feed_lateness(freshness, config)
    late = freshness[lateness["is_late"] & ~lateness["never"]]
    worst = late.groupby("dealer_id", as_index=False)["days_since_report"].max()
    worst = worst.rename(columns={"days_since_report": "stale_days"})
    worst["is_stale"] = True
    return worst


@alert_rule("stale_feed")
def stale_feed(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """A dealer's feed is older than its freshness threshold (per dealer override)."""
    f = inputs.freshness
    if f.empty:
        return pd.DataFrame(columns=_RULE_COLUMNS)
    lateness = feed_lateness(f, inputs.config)
    limit, days, never = lateness["limit"], lateness["days"], lateness["never"]
    hit_mask = lateness["is_late"]
    hit = f[hit_mask]
    critical = never[hit_mask] | (days[hit_mask] > cfg.critical_factor * limit[hit_mask])
    severity = np.where(critical, "critical", cfg.severity)
    message = [
        f"{r.dealer_id}: no {r.feed} report received; its suggestions rest on no current data."
        if nv
        else f"{r.dealer_id}: {r.feed} feed last reported {pd.Timestamp(r.last_report_date).date()}"
        f" ({_n(d, 0)} days ago, limit {_n(lim)}); its suggestions use old data."
        for r, nv, d, lim in zip(
            hit.itertuples(), never[hit_mask], days[hit_mask], limit[hit_mask], strict=True
        )
    ]
    out = _fired(hit, days[hit_mask], limit[hit_mask], message, severity)
    out["sku"] = None
    return out


@alert_rule("feed_rejected")
def feed_rejected(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """A whole file was rejected this run; its rows are not in the numbers."""
    files = inputs.rejected_files
    if files.empty:
        return pd.DataFrame(columns=_RULE_COLUMNS)
    feed = files["feed"] if "feed" in files else pd.Series("unknown", index=files.index)
    message = [
        f"File {path} ({fd}) was rejected: {reason}; none of its rows were loaded."
        for path, fd, reason in zip(files["path"], feed, files["reason"], strict=True)
    ]
    out = _fired(files, np.nan, np.nan, message)
    if "dealer_id" not in files:
        out["dealer_id"] = None
    out["sku"] = None
    return out


LISTED_IN_MESSAGE = 5  # dropped SKUs a partial_restatement message names


@alert_rule("partial_restatement")
def partial_restatement(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """A restated dealer-day lacks SKUs the delivery it replaces had: their sales of that day
    are no longer in the numbers (the raw rows stay as history)."""
    days = inputs.restatements
    if days.empty:
        return pd.DataFrame(columns=_RULE_COLUMNS)
    days = days.sort_values(["dealer_id", "date", "file"], kind="stable")
    message = []
    for r in days.itertuples():
        named = ", ".join(str(sku) for sku in list(r.dropped_skus)[:LISTED_IN_MESSAGE])
        more = r.skus_dropped - min(r.skus_dropped, LISTED_IN_MESSAGE)
        message.append(
            f"{r.dealer_id} {r.date}: file {r.file} restated the day with {r.skus_delivered} "
            f"SKU(s) where {r.previous_file} had {r.skus_previous}; the sales of "
            f"{r.skus_dropped} SKU(s) ({named}{f' and {more} more' if more else ''}) that day "
            f"are no longer in the numbers. Re-send them if they were left out by mistake."
        )
    out = _fired(days, days["skus_dropped"], np.nan, message)
    out["sku"] = None
    return out


# --- sales rules (read marts.fct_sales_exceptions) -----------------------------------------


@alert_rule("cross_territory_sale")
def cross_territory_sale(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """Units sold to customers outside the dealer's territory, summed per dealer x SKU."""
    sales = inputs.sales_exceptions
    if sales.empty:
        return pd.DataFrame(columns=_RULE_COLUMNS)
    sales = _recent(sales, inputs.as_of, cfg.lookback_days)
    sales = sales[sales["is_cross_territory"].fillna(False).astype(bool)]
    if sales.empty:
        return pd.DataFrame(columns=_RULE_COLUMNS)
    grouped = sales.groupby(["dealer_id", "sku"], as_index=False).agg(
        units=("qty_sold", "sum"),
        n_sales=("qty_sold", "size"),
        territory=("territory", "first"),
        regions=("customer_region", lambda v: ", ".join(sorted({str(x) for x in v.dropna()}))),
    )
    hit = grouped[grouped["units"] >= cfg.min_units]
    message = [
        f"{r.dealer_id} {r.sku}: {_n(r.units)} units in {r.n_sales} sale(s) to customers "
        f"outside territory {r.territory} in the last {_n(cfg.lookback_days)} days "
        f"(customer regions: {r.regions or 'unknown'})."
        for r in hit.itertuples()
    ]
    return _fired(hit, hit["units"], cfg.min_units, message)


@alert_rule("price_deviation")
def price_deviation(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """Sales priced more than `max_abs_deviation` away from list, summarised per dealer x SKU."""
    sales = inputs.sales_exceptions
    if sales.empty:
        return pd.DataFrame(columns=_RULE_COLUMNS)
    sales = _recent(sales, inputs.as_of, cfg.lookback_days)
    # Recomputed from the prices rather than read from price_deviation_pct, so the rule never
    # depends on whether the mart stores a fraction or a percentage.
    price = pd.to_numeric(sales["unit_price"], errors="coerce")
    listed = pd.to_numeric(sales["list_price"], errors="coerce")
    deviation = price / listed.where(listed > 0) - 1
    # list_price is the price list's price when master/price_list.csv has one, else the median
    # selling price (fct_sales_exceptions list_price_source).
    source = sales.get("list_price_source", pd.Series("median_price", index=sales.index))
    off = sales.assign(deviation=deviation, price=price, listed=listed, source=source)
    off = off[off["deviation"].abs() > cfg.max_abs_deviation]
    if off.empty:
        return pd.DataFrame(columns=_RULE_COLUMNS)
    off = off.assign(abs_dev=off["deviation"].abs()).sort_values("abs_dev", ascending=False)
    hit = off.groupby(["dealer_id", "sku"], as_index=False).agg(
        worst=("deviation", "first"),
        n_sales=("deviation", "size"),
        avg_price=("price", "mean"),
        list_price=("listed", "median"),
        source=("source", "first"),
    )
    basis = {"price_list": "price list"}  # else "list": the median price, as before price lists
    message = [
        f"{r.dealer_id} {r.sku}: {r.n_sales} sale(s) in the last {_n(cfg.lookback_days)} days "
        f"priced more than {_n(cfg.max_abs_deviation * 100)}% from "
        f"{basis.get(r.source, 'list')} {_n(r.list_price, 2)} "
        f"(worst {_n(abs(r.worst) * 100)}% {'below' if r.worst < 0 else 'above'}, "
        f"average {_n(r.avg_price, 2)})."
        for r in hit.itertuples()
    ]
    return _fired(hit, hit["worst"], cfg.max_abs_deviation, message)


# --- forecast rules ------------------------------------------------------------------------


@alert_rule("forecast_bias")
def forecast_bias(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """The backtest forecast runs consistently above or below actual sales."""
    acc = inputs.accuracy
    if acc.empty:
        return pd.DataFrame(columns=_RULE_COLUMNS)
    bias = pd.to_numeric(acc["bias"], errors="coerce")
    # Without n_obs every row counts as having enough history.
    n_obs = pd.to_numeric(acc["n_obs"], errors="coerce") if "n_obs" in acc else None
    enough = n_obs >= cfg.min_observations if n_obs is not None else True
    hit_mask = (bias.abs() > cfg.max_abs_bias) & enough
    hit = acc[hit_mask]
    models = hit["model"] if "model" in hit else pd.Series("forecast", index=hit.index)
    counts = n_obs[hit_mask] if n_obs is not None else pd.Series(np.nan, index=hit.index)
    message = [
        f"{r.dealer_id} {r.sku}: the {m} forecast ran {_n(abs(b) * 100, 0)}% "
        f"{'above' if b > 0 else 'below'} actual sales in the backtest (bias {b:+.2f}"
        + (f" over {int(n)} periods" if pd.notna(n) else "")
        + "); check for a shift in demand or stock-out weeks."
        for r, m, b, n in zip(hit.itertuples(), models, bias[hit_mask], counts, strict=True)
    ]
    return _fired(hit, bias[hit_mask], cfg.max_abs_bias, message)


# --- dealer rules (read marts.fct_dealer_escalation_quarterly) ------------------------------

ESCALATION_STEPS = {
    "ok": "back to ok: the escalation is closed",
    "warning": "formal warning: agree an improvement plan",
    "improvement_plan": "still below while on the improvement plan",
    "exit_review": "exit review: prepare the stock buy-back",
}


@alert_rule("dealer_escalation")
def dealer_escalation(inputs: AlertInputs, cfg) -> pd.DataFrame:  # noqa: ANN001
    """A dealer's escalation state changed in the latest complete quarter (the newest quarter
    in the walk): from its previous quarter's state, or from ok for its first scored quarter.
    Critical when the new state is one of `critical_states`, info on a recovery to ok."""
    walk = inputs.escalation
    if walk.empty:
        return pd.DataFrame(columns=_RULE_COLUMNS)
    walk = walk.assign(quarter_start=pd.to_datetime(walk["quarter_start"]))
    walk = walk.sort_values(["dealer_id", "quarter_start"], kind="stable")
    walk["previous"] = walk.groupby("dealer_id")["state"].shift(1).fillna("ok")
    latest = walk["quarter_start"].max()
    hit = walk[(walk["quarter_start"] == latest) & (walk["state"] != walk["previous"])]
    if hit.empty:
        return pd.DataFrame(columns=_RULE_COLUMNS)
    below = hit["quarters_below"] if "quarters_below" in hit else pd.Series(np.nan, hit.index)
    severity = np.where(
        hit["state"].isin(cfg.critical_states),
        "critical",
        np.where(hit["state"] == "ok", "info", cfg.severity),
    )
    message = []
    for r, n in zip(hit.itertuples(), below, strict=True):
        tier = getattr(r, "tier", None)
        score = getattr(r, "score", None)
        detail = (
            ("at or above" if r.state == "ok" else f"{_n(n, 0)} consecutive quarter(s) below")
            + (f" its {tier}" if isinstance(tier, str) and tier else "")
            + " benchmarks"
            + (f", score {_n(score, 2)}" if score is not None and pd.notna(score) else "")
        )
        message.append(
            f"{r.dealer_id}: escalation {r.previous} -> {r.state} in the quarter from "
            f"{r.quarter_start.date()} ({detail}); {ESCALATION_STEPS.get(r.state, r.state)}."
        )
    out = _fired(hit, below, np.nan, message, severity)
    out["sku"] = None
    return out
