"""Excess-stock actions: the cheapest remedy per excess line, costs computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from replenishment.actions import ACTION_COLUMNS, excess_lines, propose_actions
from replenishment.config import PolicyConfig

# freight: same region 0.5/unit, North <-> South 1.5/unit, other pairs 2.0/unit;
# markdown 30% of unit cost, demand x 1.5 while marked down, at most 90 days;
# return 1.0/unit + 10% of unit cost.
CONFIG = PolicyConfig.model_validate(
    {
        "excess_actions": {
            "freight_per_unit": {"lanes": {"North": {"South": 1.5}}},
            "markdown_discount": 0.3,
            "return_handling_per_unit": 1.0,
            "return_restocking_share": 0.1,
        }
    }
)


def line(dealer, sku, on_hand, position, order_up_to, daily, raw_need=0.0):
    return {
        "dealer_id": dealer, "sku": sku, "on_hand": on_hand, "inventory_position": position,
        "order_up_to": order_up_to, "avg_daily_demand": daily, "raw_need": raw_need,
    }  # fmt: skip


SUGGESTIONS = pd.DataFrame(
    [
        line("D1", "X", 30, 30, 10, 0.5),  # overstock: 20 over order-up-to
        line("D2", "X", 0, 0, 12.4, 1.0, raw_need=12.4),  # short 13 (whole units), South
        line("D3", "X", 1, 1, 6, 1.0, raw_need=5),  # short 5, North like D1
        line("D4", "Y", 8, 8, 0, 0.0),  # dead stock, no demand
        line("D5", "Z", 12, 12, 2, 1.0),  # slow mover, sells 1/day
        line("D6", "W", 210, 210, 10, 1.0),  # overstock 200: a markdown takes 133 days
    ]
)
ITEMS = pd.DataFrame(
    {
        "dealer_id": ["D1", "D2", "D3", "D4", "D5", "D6"],
        "sku": ["X", "X", "X", "Y", "Z", "W"],
        "region": ["North", "South", "North", "East", "East", "East"],
        "unit_cost": [10.0, 10.0, 10.0, 4.0, 2.0, 2.0],
    }
)
ALERTS = pd.DataFrame(
    {
        "alert_type": ["overstock", "dead_stock", "slow_moving", "overstock", "stockout"],
        "dealer_id": ["D1", "D4", "D5", "D6", "D2"],
        "sku": ["X", "Y", "Z", "W", "X"],
    }
)


def by_line(actions: pd.DataFrame) -> dict:
    return {
        (r.dealer_id, r.sku, r.action, r.to_dealer_id or ""): (r.qty, r.value, r.cost)
        for r in actions.itertuples()
    }


def test_cheapest_remedy_per_line_with_hand_computed_costs():
    actions = propose_actions(SUGGESTIONS, ALERTS, ITEMS, CONFIG)
    assert list(actions.columns[: len(ACTION_COLUMNS)]) == ACTION_COLUMNS
    assert by_line(actions) == {
        # D1 X, 20 excess: D3 same region 0.5/unit takes its 5 (2.5); D2 across North-South
        # 1.5/unit takes its 13 (19.5); the last 2 go back at 1 + 0.1 x 10 = 2.0/unit (4.0),
        # cheaper than a 3.0/unit markdown. Value = qty x 10.
        ("D1", "X", "transfer", "D3"): (5, 50, 2.5),
        ("D1", "X", "transfer", "D2"): (13, 130, 19.5),
        ("D1", "X", "return", ""): (2, 20, 4.0),
        # D4 Y, dead: all 8 on hand; no demand, so no markdown; return 1 + 0.4 = 1.4/unit.
        ("D4", "Y", "return", ""): (8, 32, 11.2),
        # D5 Z, 10 excess: markdown 0.3 x 2 = 0.6/unit (6.0) beats return 1.2/unit; clears in
        # 10 / (1 x 1.5) = 6.7 days.
        ("D5", "Z", "markdown", ""): (10, 20, 6.0),
        # D6 W, 200 excess: markdown 0.6/unit would take 200 / 1.5 = 133 days > 90: return at
        # 1.2/unit = 240.
        ("D6", "W", "return", ""): (200, 400, 240.0),
    }
    markdown = actions[actions["action"] == "markdown"].iloc[0]
    assert markdown["days_to_clear"] == pytest.approx(6.7)
    slow = actions[(actions["dealer_id"] == "D6")].iloc[0]
    assert "too slow to clear" in slow["reason"]
    first = actions[(actions["dealer_id"] == "D1") & (actions["to_dealer_id"] == "D3")].iloc[0]
    assert first["reason"].startswith("D1 X: overstock, 20 units in excess. Transfer 5 to D3")


def test_tonights_transfers_and_earlier_lines_use_up_the_need():
    # A same-region transfer already sends 4 of D1's X to D3: D1 has 16 left to place and D3
    # needs only 1 more; D2 still needs 13.
    transfers = pd.DataFrame(
        {"from_dealer_id": ["D1"], "to_dealer_id": ["D3"], "sku": ["X"], "qty": [4.0]}
    )
    actions = propose_actions(SUGGESTIONS, ALERTS, ITEMS, CONFIG, transfers=transfers)
    d1 = {k: v for k, v in by_line(actions).items() if k[0] == "D1"}
    assert d1 == {
        ("D1", "X", "transfer", "D3"): (1, 10, 0.5),
        ("D1", "X", "transfer", "D2"): (13, 130, 19.5),
        ("D1", "X", "return", ""): (2, 20, 4.0),
    }
    # A second sender of X after D1 (smaller excess) finds no need left: it returns its stock.
    more = pd.concat([SUGGESTIONS, pd.DataFrame([line("D7", "X", 6, 6, 0, 0.0)])])
    items = pd.concat([ITEMS, pd.DataFrame([{"dealer_id": "D7", "sku": "X", "region": "South",
                                              "unit_cost": 10.0}])])  # fmt: skip
    alerts = pd.concat([ALERTS, pd.DataFrame([{"alert_type": "dead_stock", "dealer_id": "D7",
                                               "sku": "X"}])])  # fmt: skip
    d7 = by_line(propose_actions(more, alerts, items, CONFIG))
    assert d7[("D7", "X", "return", "")] == (6, 60, 12.0)
    assert not any(k[0] == "D7" and k[2] == "transfer" for k in d7)


def test_excess_takes_dead_stock_first_and_never_more_than_on_hand():
    alerts = pd.DataFrame(
        {"alert_type": ["overstock", "dead_stock"], "dealer_id": ["D1", "D1"], "sku": ["X", "X"]}
    )
    lines = excess_lines(SUGGESTIONS, alerts)
    assert list(lines["alert_type"]) == ["dead_stock"]
    assert list(lines["excess"]) == [30]  # dead: the whole on_hand, not just the 20 over
    # Position above order-up-to but stock mostly in transit: only what is on hand can move.
    in_transit = pd.DataFrame([line("D9", "Q", 3, 40, 10, 1.0)])
    alerts = pd.DataFrame({"alert_type": ["overstock"], "dealer_id": ["D9"], "sku": ["Q"]})
    assert list(excess_lines(in_transit, alerts)["excess"]) == [3]


def test_disabled_or_no_excess_gives_no_rows():
    off = PolicyConfig.model_validate({"excess_actions": {"enabled": False}})
    assert propose_actions(SUGGESTIONS, ALERTS, ITEMS, off).empty
    quiet = ALERTS[ALERTS["alert_type"] == "stockout"]
    assert propose_actions(SUGGESTIONS, quiet, ITEMS, CONFIG).empty


def test_freight_table_is_symmetric_and_falls_back_by_region():
    freight = CONFIG.excess_actions.freight_per_unit
    assert freight.per_unit("South", "North") == freight.per_unit("North", "South") == 1.5
    assert freight.per_unit("East", "East") == 0.5
    assert freight.per_unit("East", "West") == 2.0
