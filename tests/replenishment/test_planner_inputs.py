"""Planner inputs (forecast overrides, snoozes) against hand-worked policy numbers and dates."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from replenishment.config import load_policy_config
from replenishment.plan import plan_replenishment
from replenishment.planner_inputs import (
    active_overrides,
    active_snoozes,
    suggestions_with_planner_inputs,
)
from replenishment.policy import compute_suggestions
from tests.replenishment.whole_units import whole_unit_level

# The level maths as textbooks give it (customers wait); lost sales: tests/replenishment/
# test_lost_sales.py.
CONFIG = load_policy_config().model_copy(update={"unmet_demand": "backordered"})
AS_OF = date(2026, 3, 2)
DAY = timedelta(days=1)


def position(**changes) -> dict:
    # L = 10 (sd 0), R = 4: P = 14; class B (95 %); pack 1, no MOQ; 10 on hand.
    row = dict(
        dealer_id="D001", sku="S1", on_hand=10.0, in_transit=0.0, on_order=0.0, backorders=0.0,
        lead_time_days=10.0, lead_time_sd_days=0.0, review_period_days=4, pack_size=1, moq=0,
        abc_class="B", service_level=np.nan, min_qty=np.nan, max_qty=np.nan, is_stale=False,
        stale_days=0,
    )  # fmt: skip
    row.update(changes)
    return row


def demand(**changes) -> dict:
    # The model: 2 units/day (14/week), error sd 1.5/day.
    row = dict(dealer_id="D001", sku="S1", daily_rate=2.0, sigma_daily=1.5,
               demand_class="smooth", forecast_model="ets")  # fmt: skip
    row.update(changes)
    return row


def override(**changes) -> dict:
    row = dict(dealer_id="D001", sku="S1", units_per_week=70.0, valid_from="2026-02-25",
               valid_to="2026-03-08", note="", set_by="ann", set_at="2026-02-24T10:00")  # fmt: skip
    row.update(changes)
    return row


def snooze(**changes) -> dict:
    row = dict(dealer_id="D001", sku="S1", until="2026-03-09", set_by="bob",
               set_at="2026-02-24T10:00:00+00:00", as_of="2026-02-24")  # fmt: skip
    row.update(changes)
    return row


def run(positions=None, demands=None, *, overrides=None, snoozes=None, as_of=AS_OF):
    return suggestions_with_planner_inputs(
        pd.DataFrame(positions or [position()]),
        pd.DataFrame(demands or [demand()]),
        CONFIG,
        overrides=None if overrides is None else pd.DataFrame(overrides),
        snoozes=None if snoozes is None else pd.DataFrame(snoozes),
        run_id="r1",
        as_of=as_of,
    )


def plain(positions=None, demands=None, as_of=AS_OF) -> pd.DataFrame:
    return compute_suggestions(
        pd.DataFrame(positions or [position()]),
        pd.DataFrame(demands or [demand()]),
        CONFIG,
        run_id="r1",
        as_of=as_of,
    )


def test_an_override_in_force_is_the_demand_the_policy_prices():
    line = run(overrides=[override()]).iloc[0]
    # By hand: d = 70 / 7 = 10/day, P = 14, D = 140; the model's sigma_d = 1.5 stays, sd_L = 0:
    # sigma_P = sqrt(14 * 1.5^2) = sqrt(31.5); OUT = the whole-unit level, 148.24 (the classic
    # 140 + z(0.95) * sqrt(31.5) = 149.23 less about one unit).
    sigma_p = math.sqrt(14 * 1.5**2)
    expected_out = whole_unit_level(140.0, sigma_p, 1, 0.95)
    assert expected_out == pytest.approx(148.24, abs=0.005)
    assert line["avg_daily_demand"] == pytest.approx(10.0)
    assert line["demand_over_protection"] == pytest.approx(140.0)
    assert line["sigma_over_protection"] == pytest.approx(sigma_p)
    assert line["order_up_to"] == pytest.approx(expected_out)
    assert line["raw_need"] == pytest.approx(expected_out - 10)
    assert line["suggested_qty"] == math.ceil(expected_out - 10) == 139
    assert line["demand_class"] == "smooth" and line["forecast_model"] == "ets"
    assert line["reason"].startswith("Order 139: order-up-to 148.2 = forecast 140 over 14 days")
    assert line["reason"].endswith(
        "; forecast override 70/week by ann until 2026-03-08 (model said 14/week)."
    )


def test_the_override_note_and_a_model_path_show_in_the_reason():
    path = np.array([1.0, 2.0, 3.0])  # a daily path: the model's mean is 2/day = 14/week
    line = run(demands=[demand(daily_rate=path)], overrides=[override(note="spring promo")])
    reason = line.iloc[0]["reason"]
    assert reason.endswith("(model said 14/week; note: spring promo).")
    assert line.iloc[0]["avg_daily_demand"] == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("as_of", "in_force"),
    [
        (date(2026, 2, 24), False),  # the day before valid_from
        (date(2026, 2, 25), True),  # valid_from itself
        (date(2026, 3, 8), True),  # valid_to itself
        (date(2026, 3, 9), False),  # the day after valid_to: expired
    ],
)
def test_an_override_counts_from_valid_from_to_valid_to_inclusive(as_of, in_force):
    line = run(overrides=[override()], as_of=as_of).iloc[0]
    untouched = plain(as_of=as_of).iloc[0]
    if in_force:
        assert line["avg_daily_demand"] == pytest.approx(10.0)
        assert "forecast override 70/week" in line["reason"]
    else:
        pd.testing.assert_series_equal(line, untouched)
    assert len(active_overrides([override()], as_of)) == int(in_force)


def test_an_override_of_another_pair_or_a_bad_row_changes_nothing():
    others = [
        override(sku="S2"),
        override(units_per_week=-5.0),
        override(units_per_week=None),
        override(valid_to="not a date"),
    ]
    for row in others:
        pd.testing.assert_frame_equal(run(overrides=[row]), plain())


def test_an_override_gives_demand_to_a_pair_the_model_has_no_row_for():
    line = run(demands=[demand(sku="OTHER")], overrides=[override(units_per_week=7.0)]).iloc[0]
    # d = 1/day, P = 14, D = 14; no model error (sigma 0) -> sigma_P = 0, OUT = D = 14.
    assert line["avg_daily_demand"] == pytest.approx(1.0)
    assert line["demand_over_protection"] == pytest.approx(14.0)
    assert line["demand_class"] == "no_history"
    assert line["suggested_qty"] == 4  # 14 - 10 on hand
    assert "forecast override 7/week by ann until 2026-03-08 (no model forecast)." in line["reason"]


def test_a_snooze_orders_nothing_and_keeps_the_would_be_quantity_in_the_reason():
    before = plain().iloc[0]
    # Up to the whole-unit level 36.2 (28 + 1.645 * sqrt(31.5) = 37.2 less a unit), 10 on hand.
    assert before["order_up_to"] == pytest.approx(whole_unit_level(28.0, math.sqrt(31.5), 1, 0.95))
    assert before["suggested_qty"] == 27
    line = run(snoozes=[snooze()]).iloc[0]
    assert line["suggested_qty"] == 0
    assert line["raw_need"] == pytest.approx(before["raw_need"])  # the policy's need stays
    assert line["reason"] == (
        "No order: snoozed by bob until 2026-03-09 (would suggest 27); "
        + before["reason"].removeprefix("Order 27: ")
    )
    same = ["order_up_to", "safety_stock", "inventory_position", "avg_daily_demand"]
    pd.testing.assert_series_equal(line[same], before[same])


@pytest.mark.parametrize(
    ("until", "in_force"),
    [(AS_OF + DAY, True), (AS_OF, True), (AS_OF - DAY, False)],
)
def test_a_snooze_holds_up_to_and_including_its_until_day(until, in_force):
    line = run(snoozes=[snooze(until=until.isoformat())]).iloc[0]
    assert bool(line["suggested_qty"] == 0) is in_force
    assert line["reason"].startswith("No order: snoozed by bob") is in_force
    assert len(active_snoozes([snooze(until=until.isoformat())], AS_OF)) == int(in_force)


def test_a_snoozed_line_without_need_still_says_it_is_snoozed():
    line = run(positions=[position(on_hand=100.0)], snoozes=[snooze()]).iloc[0]
    assert line["suggested_qty"] == 0
    assert line["reason"].startswith(
        "No order: snoozed by bob until 2026-03-09 (would suggest 0); position 100 = 100 on hand"
    )


def test_override_and_snooze_together_snooze_the_overridden_quantity():
    line = run(overrides=[override()], snoozes=[snooze()]).iloc[0]
    assert line["suggested_qty"] == 0
    assert line["order_up_to"] == pytest.approx(whole_unit_level(140.0, math.sqrt(31.5), 1, 0.95))
    assert line["reason"].startswith(
        "No order: snoozed by bob until 2026-03-09 (would suggest 139);"
    )
    assert line["reason"].endswith("(model said 14/week).")


def test_only_the_named_pairs_change_among_many():
    positions = [position(sku=s) for s in ("S1", "S2", "S3")]
    demands = [demand(sku=s) for s in ("S1", "S2", "S3")]
    out = run(positions, demands, overrides=[override(sku="S2")], snoozes=[snooze(sku="S3")])
    base = plain(positions, demands)
    pd.testing.assert_series_equal(out.iloc[0], base.iloc[0])
    assert out.loc[1, "avg_daily_demand"] == pytest.approx(10.0)
    assert out.loc[2, "suggested_qty"] == 0 and base.loc[2, "suggested_qty"] == 27


def test_no_inputs_is_the_plain_policy():
    for empty in (None, []):
        pd.testing.assert_frame_equal(run(overrides=empty, snoozes=empty), plain())


def test_the_plan_keeps_alerts_of_a_snoozed_pair():
    """Out of stock and snoozed: no order, but the stockout alert still shows."""
    frames = dict(accuracy=None, rejected_files=None, freshness=None, sales_exceptions=None,
                  last_sales=None, dealers=pd.DataFrame({"dealer_id": ["D001"], "region": ["N"]}),
                  config=CONFIG, run_id="r1", as_of=AS_OF)  # fmt: skip
    result = plan_replenishment(
        pd.DataFrame([position(on_hand=0.0)]),
        pd.DataFrame([demand()]),
        overrides=pd.DataFrame([override()]),
        snoozes=pd.DataFrame([snooze()]),
        **frames,
    )
    line = result.suggestions.iloc[0]
    assert line["suggested_qty"] == 0 and "snoozed by bob" in line["reason"]
    stockout = result.alerts[result.alerts["alert_type"] == "stockout"]
    assert stockout["sku"].tolist() == ["S1"]
    assert "10/day" in stockout["message"].iloc[0]  # the overridden demand, 70/week
