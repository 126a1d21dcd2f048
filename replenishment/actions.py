"""Excess-stock actions: for each overstock, slow-moving or dead-stock line, the cheapest remedy.

Three remedies, each valued per unit (policy.yml `excess_actions`):

- **transfer** to a dealer of ANY region short of the SKU (its ``raw_need > 0``): freight per
  unit from the region-pair table (`config.Freight.per_unit`); at most the receiver's need left
  after tonight's same-region transfers (transfers.csv) and earlier actions.
- **markdown**: ``markdown_discount x unit_cost`` per unit; a candidate only when the excess
  clears within ``markdown_max_days`` at the forecast demand lifted by
  ``markdown_demand_uplift`` (days to clear = qty / (avg_daily_demand x uplift)).
- **return** (buy-back): ``return_handling_per_unit + return_restocking_share x unit_cost``
  per unit; always possible.

The cheapest per unit takes as many units as it can (ties: transfer, then markdown, then
return); a transfer that cannot take the whole excess leaves the rest to the next cheapest.
Excess: a dead-stock line's whole on_hand; otherwise on_hand above order-up-to (at most the
inventory position above it, less tonight's outgoing transfers), in whole units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from replenishment.alerts import _n as number_text
from replenishment.config import PolicyConfig

ACTION_COLUMNS = ["dealer_id", "sku", "action", "qty", "value", "cost", "reason"]
# actions.csv: the contract columns, then what a planner filters and checks by.
ACTION_OUTPUT_COLUMNS = [
    "run_id", "as_of", *ACTION_COLUMNS, "alert_type", "to_dealer_id", "unit_cost",
    "cost_per_unit", "days_to_clear",
]  # fmt: skip
EXCESS_ALERTS = ("dead_stock", "slow_moving", "overstock")  # first one of a line wins
ORDER = {"transfer": 0, "markdown": 1, "return": 2}


OTHER_TRANSFERS_NAMED = 2  # cheaper-next transfers a reason names beside markdown and return


@dataclass
class _Option:
    action: str
    per_unit: float
    capacity: float
    receiver: list | None = None  # [dealer_id, region, units still needed] of a transfer

    @property
    def to_dealer_id(self) -> str | None:
        return self.receiver[0] if self.receiver else None


def excess_lines(suggestions: pd.DataFrame, alerts: pd.DataFrame) -> pd.DataFrame:
    """The lines with excess stock: ``dealer_id, sku, alert_type, excess`` plus the line.

    One row per dealer x SKU with an overstock, slow_moving or dead_stock alert (dead stock
    first, then slow moving, then overstock, when a line has several). ``excess``: on_hand for
    dead stock; else min(on_hand, inventory_position - order_up_to), floored, at least 0.
    """
    if alerts.empty or suggestions.empty:
        return pd.DataFrame(columns=["dealer_id", "sku", "alert_type", "excess"])
    hit = alerts[alerts["alert_type"].isin(EXCESS_ALERTS)][["dealer_id", "sku", "alert_type"]]
    hit = hit.assign(_rank=hit["alert_type"].map({a: i for i, a in enumerate(EXCESS_ALERTS)}))
    hit = hit.sort_values("_rank", kind="stable").drop_duplicates(["dealer_id", "sku"])
    lines = suggestions.merge(hit.drop(columns="_rank"), on=["dealer_id", "sku"], how="inner")
    on_hand = lines["on_hand"].astype(float).clip(lower=0)
    above = (lines["inventory_position"] - lines["order_up_to"]).astype(float).clip(lower=0)
    excess = np.where(lines["alert_type"] == "dead_stock", on_hand, np.minimum(on_hand, above))
    return lines.assign(excess=np.floor(excess))


def propose_actions(
    suggestions: pd.DataFrame,
    alerts: pd.DataFrame,
    items: pd.DataFrame,
    config: PolicyConfig,
    transfers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The cheapest remedy (or remedies, when a transfer takes only part) per excess line.

    Parameters
    ----------
    suggestions
        The night's lines (`replenishment.policy.compute_suggestions`): ``dealer_id, sku,
        on_hand, inventory_position, order_up_to, avg_daily_demand, raw_need``.
    alerts
        The night's alerts (``dealer_id, sku, alert_type``).
    items
        ``dealer_id, sku, region, unit_cost`` (marts.fct_replenishment_inputs).
    config
        ``excess_actions`` (costs; ``enabled: false`` gives no rows).
    transfers
        Tonight's same-region transfers (``from_dealer_id, to_dealer_id, sku, qty``): they
        reduce the sender's excess and the receiver's need first.

    Returns
    -------
    pandas.DataFrame
        `ACTION_COLUMNS` plus ``alert_type, to_dealer_id, unit_cost, cost_per_unit,
        days_to_clear``; ``value = qty x unit_cost`` (stock value dealt with), ``cost = qty x
        cost_per_unit``.
    """
    settings = config.excess_actions
    columns = ACTION_OUTPUT_COLUMNS[2:]
    lines = excess_lines(suggestions, alerts)
    if not settings.enabled or lines.empty:
        return pd.DataFrame(columns=columns)
    info = items.reindex(columns=["dealer_id", "sku", "region", "unit_cost"])
    info = info.drop_duplicates(["dealer_id", "sku"])
    lines = lines.drop(columns=["region", "unit_cost"], errors="ignore")
    lines = lines.merge(info, on=["dealer_id", "sku"], how="left")
    outgoing, incoming = _moved(transfers)
    lines["excess"] = [
        max(0.0, e - outgoing.get((d, s), 0.0))
        for d, s, e in zip(lines["dealer_id"], lines["sku"], lines["excess"], strict=True)
    ]
    lines = lines[lines["excess"] > 0]
    plain = suggestions.drop(columns=["region", "unit_cost"], errors="ignore")
    need = _needs(plain.merge(info, on=["dealer_id", "sku"], how="left"), incoming)
    lines = lines.sort_values(["sku", "excess", "dealer_id"], ascending=[True, False, True])
    rows, freight = [], {}
    for line in lines.itertuples(index=False):
        rows += _remedies(line, need, settings, freight)
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["dealer_id", "sku"], kind="stable").reset_index(drop=True)


def _moved(transfers: pd.DataFrame | None) -> tuple[dict, dict]:
    if transfers is None or transfers.empty:
        return {}, {}
    qty = transfers["qty"].astype(float)
    out = qty.groupby([transfers["from_dealer_id"], transfers["sku"]]).sum().to_dict()
    into = qty.groupby([transfers["to_dealer_id"], transfers["sku"]]).sum().to_dict()
    return out, into


def _needs(lines: pd.DataFrame, incoming: dict) -> dict[str, list[list]]:
    """SKU -> [[dealer_id, region, units still needed], ...] of the dealers short of it."""
    short = lines[lines["raw_need"].astype(float) > 0]
    need: dict[str, list[list]] = {}
    for r in short.itertuples(index=False):
        units = math.ceil(float(r.raw_need)) - incoming.get((r.dealer_id, r.sku), 0.0)
        if units > 0:
            need.setdefault(r.sku, []).append([r.dealer_id, r.region, float(units)])
    return need


def _remedies(line, need: dict, settings, freight: dict) -> list[dict]:  # noqa: ANN001
    """The rows of one excess line; `freight` caches the cost per unit of a region pair."""
    unit_cost = float(line.unit_cost) if pd.notna(line.unit_cost) else 0.0
    daily = float(line.avg_daily_demand) if pd.notna(line.avg_daily_demand) else 0.0
    options = []
    for receiver in need.get(line.sku, []):
        if receiver[0] != line.dealer_id and receiver[2] > 0:
            lane = (line.region, receiver[1])
            if lane not in freight:
                freight[lane] = settings.freight_per_unit.per_unit(*lane)
            options.append(_Option("transfer", freight[lane], receiver[2], receiver))
    markdown_per_unit = settings.markdown_discount * unit_cost
    options.append(_Option("markdown", markdown_per_unit, math.inf))
    handling = settings.return_handling_per_unit
    options.append(
        _Option("return", handling + settings.return_restocking_share * unit_cost, math.inf)
    )
    # Cheapest first; a tie goes to a transfer (the stock keeps selling), then to the larger
    # receiver, then to a markdown before a return.
    options.sort(key=lambda o: (o.per_unit, ORDER[o.action], -o.capacity, str(o.to_dealer_id)))

    rows, left = [], float(line.excess)
    for option in options:
        if left <= 0:
            break
        qty = min(left, option.capacity)
        days = qty / (daily * settings.markdown_demand_uplift) if daily > 0 else math.inf
        if option.action == "markdown" and days > settings.markdown_max_days:
            continue
        rows.append(
            {
                "dealer_id": line.dealer_id, "sku": line.sku, "action": option.action,
                "qty": qty, "value": round(qty * unit_cost, 2),
                "cost": round(qty * option.per_unit, 2),
                "reason": _reason(line, option, qty, days, options, settings, left),
                "alert_type": line.alert_type, "to_dealer_id": option.to_dealer_id or "",
                "unit_cost": unit_cost, "cost_per_unit": round(option.per_unit, 4),
                "days_to_clear": round(days, 1) if option.action == "markdown" else np.nan,
            }
        )  # fmt: skip
        if option.receiver is not None:
            option.receiver[2] -= qty
        left -= qty
    return rows


def _reason(line, option: _Option, qty, days, options, settings, left) -> str:  # noqa: ANN001
    if option.receiver is not None:
        dealer, region, units = option.receiver
        note = f"to {dealer} ({region}, short {_n(units)})"
    what = {
        "transfer": f"Transfer {_n(qty)} {note} at {_n(option.per_unit, 2)}/unit freight"
        if option.receiver is not None
        else "",
        "markdown": (
            f"Mark down {_n(qty)} by {_n(settings.markdown_discount * 100)}% "
            f"({_n(option.per_unit, 2)}/unit), clearing in about {_n(days, 0)} days at "
            f"{_n(line.avg_daily_demand * settings.markdown_demand_uplift, 2)}/day"
        ),
        "return": f"Return {_n(qty)} to the manufacturer at {_n(option.per_unit, 2)}/unit "
        "handling and restocking",
    }[option.action]
    rest = f" (of the {_n(left)} left after cheaper remedies)" if left < line.excess else ""
    transfers = [o for o in options if o.receiver is not None and o is not option]
    named = transfers[:OTHER_TRANSFERS_NAMED] + [o for o in options if o.receiver is None]
    others = [
        f"{o.action}{' ' + o.to_dealer_id if o.to_dealer_id else ''} {_n(o.per_unit, 2)}/unit"
        + (" (too slow to clear)" if o.action == "markdown" and _too_slow(line, qty, settings)
           else "")
        for o in named
        if o is not option
    ]  # fmt: skip
    if len(transfers) > OTHER_TRANSFERS_NAMED:
        others.append(f"{len(transfers) - OTHER_TRANSFERS_NAMED} more transfer(s)")
    head = f"{line.dealer_id} {line.sku}: {line.alert_type.replace('_', ' ')}, {_n(line.excess)} "
    return (
        f"{head}units in excess. {what}{rest} = {_n(qty * option.per_unit, 2)}; "
        f"other remedies: {', '.join(others)}."
    )


def _too_slow(line, qty: float, settings) -> bool:  # noqa: ANN001
    daily = float(line.avg_daily_demand) if pd.notna(line.avg_daily_demand) else 0.0
    if daily <= 0:
        return True
    return qty / (daily * settings.markdown_demand_uplift) > settings.markdown_max_days


def _n(value: float, decimals: int = 1) -> str:
    """The alert messages' number text, digits grouped (1,234.5)."""
    return number_text(value, decimals, thousands=",")
