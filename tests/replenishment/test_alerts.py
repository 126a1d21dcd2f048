"""Alert rules: each fires on a hand-made case and stays quiet on its control."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replenishment.alerts import ALERT_RULES, build_alerts
from replenishment.config import PolicyConfig, load_policy_config
from replenishment.policy import compute_suggestions

CONFIG = load_policy_config()
AS_OF = date(2026, 3, 2)
DESIGN_ALERT_TYPES = {
    "stockout",
    "stockout_risk",
    "below_safety_stock",
    "overstock",
    "slow_moving",
    "dead_stock",
    "stale_feed",
    "feed_rejected",
    "partial_restatement",
    "cross_territory_sale",
    "price_deviation",
    "forecast_bias",
    "dealer_escalation",  # DESIGN.md "Dealer management"
}
DESIGN_COLUMNS = [
    "run_id",
    "as_of",
    "alert_type",
    "severity",
    "dealer_id",
    "sku",
    "metric",
    "threshold",
    "message",
]


def suggestion(sku: str, dealer_id: str = "D001", **overrides) -> dict:
    """A healthy pair: 2/day, lead 10, review 7, safety stock 10, order-up-to 44, position 40."""
    row = dict(
        run_id="r",
        as_of=AS_OF,
        dealer_id=dealer_id,
        sku=sku,
        on_hand=30.0,
        in_transit=10.0,
        on_order=0.0,
        inventory_position=40.0,
        avg_daily_demand=2.0,
        demand_class="smooth",
        forecast_model="ets",
        lead_time_days=10.0,
        lead_time_sd_days=1.0,
        review_period_days=7.0,
        protection_days=17.0,
        demand_over_protection=34.0,
        sigma_over_protection=6.0,
        service_level=0.95,
        z=1.64,
        safety_stock=10.0,
        order_up_to=44.0,
        raw_need=4.0,
        pack_size=1,
        moq=0,
        suggested_qty=4,
        reason="",
    )
    row.update(overrides)
    return row


def alerts_for(rows: list[dict] | None = None, config: PolicyConfig = CONFIG, **inputs):
    suggestions = pd.DataFrame(rows or [suggestion("OK")])
    return build_alerts(suggestions, config=config, run_id="r", as_of=AS_OF, **inputs)


def fired(alerts: pd.DataFrame, alert_type: str) -> pd.DataFrame:
    return alerts[alerts["alert_type"] == alert_type]


def test_registry_covers_exactly_the_design_alert_types():
    assert set(ALERT_RULES) == DESIGN_ALERT_TYPES


def test_healthy_pair_raises_nothing_and_columns_match_design():
    alerts = alerts_for()
    assert alerts.empty
    assert list(alerts.columns) == DESIGN_COLUMNS


def test_stockout():
    alerts = alerts_for(
        [
            suggestion("EMPTY", on_hand=0.0, inventory_position=10.0),
            suggestion("NODEMAND", on_hand=0.0, inventory_position=0.0, avg_daily_demand=0.0),
            suggestion("OK"),
        ]
    )
    hit = fired(alerts, "stockout")
    assert hit["sku"].tolist() == ["EMPTY"]
    assert hit["severity"].tolist() == ["critical"]
    assert "out of stock (0 on hand)" in hit["message"].iloc[0]
    assert "2/day" in hit["message"].iloc[0]


def test_stockout_risk_warning_and_critical():
    # Lead-time demand is 2 * 10 = 20: position 15 is a warning, 8 (< 50 %) critical.
    alerts = alerts_for(
        [
            suggestion("LOW", on_hand=15.0, in_transit=0.0, inventory_position=15.0),
            suggestion("VERYLOW", on_hand=8.0, in_transit=0.0, inventory_position=8.0),
            suggestion("OK", on_hand=25.0, in_transit=0.0, inventory_position=25.0),
        ]
    )
    hit = fired(alerts, "stockout_risk").set_index("sku")
    assert sorted(hit.index) == ["LOW", "VERYLOW"]
    assert hit.loc["LOW", "severity"] == "warning"
    assert hit.loc["VERYLOW", "severity"] == "critical"
    assert hit.loc["LOW", "metric"] == pytest.approx(7.5)  # days of cover
    assert hit.loc["LOW", "threshold"] == 10
    assert "2026-03-09" in hit.loc["LOW", "message"]  # as_of + 7.5 days


def test_below_safety_stock():
    alerts = alerts_for([suggestion("DIP", on_hand=6.0), suggestion("OK", on_hand=12.0)])
    hit = fired(alerts, "below_safety_stock")
    assert hit["sku"].tolist() == ["DIP"]
    assert (hit["metric"].iloc[0], hit["threshold"].iloc[0]) == (6, 10)


def test_overstock_by_weeks_of_demand_and_by_days_of_cover():
    # Limit: order-up-to 44 + 8 weeks * 7 * 2/day = 156.
    alerts = alerts_for(
        [
            suggestion("HUGE", on_hand=200.0, inventory_position=200.0),
            suggestion(
                "SLOWHUGE",
                avg_daily_demand=0.1,
                order_up_to=3.0,
                on_hand=30.0,
                inventory_position=30.0,
            ),  # 300 days of cover
            suggestion("OK", on_hand=150.0, inventory_position=150.0),
            suggestion(
                "ONEPACK",
                avg_daily_demand=0.1,
                order_up_to=3.0,
                on_hand=14.0,
                inventory_position=14.0,
                pack_size=12,
            ),  # over by less than a pack
        ]
    )
    hit = fired(alerts, "overstock").set_index("sku")
    assert sorted(hit.index) == ["HUGE", "SLOWHUGE"]
    assert hit.loc["HUGE", "threshold"] == pytest.approx(156.0)
    assert "156 above" in hit.loc["HUGE", "message"]


def test_slow_moving_and_dead_stock_split_on_days_without_sale():
    last_sales = pd.DataFrame(
        {
            "dealer_id": "D001",
            "sku": ["RECENT", "SLOW", "DEAD", "NEVER", "EMPTYSHELF"],
            "last_sale_date": [
                date(2026, 2, 20),
                date(2025, 12, 1),
                date(2025, 6, 1),
                None,
                date(2025, 1, 1),
            ],
        }
    )
    alerts = alerts_for(
        [suggestion(s) for s in ["RECENT", "SLOW", "DEAD", "NEVER"]]
        + [suggestion("EMPTYSHELF", on_hand=0.0)],
        last_sales=last_sales,
    )
    slow = fired(alerts, "slow_moving").set_index("sku")
    dead = fired(alerts, "dead_stock").set_index("sku")
    assert sorted(slow.index) == ["NEVER", "SLOW"]
    assert slow.loc["SLOW", "metric"] == (AS_OF - date(2025, 12, 1)).days  # 91
    assert "no sale on record" in slow.loc["NEVER", "message"]
    assert dead.index.tolist() == ["DEAD"]
    assert dead.loc["DEAD", "metric"] == (AS_OF - date(2025, 6, 1)).days


def test_stale_feed_uses_per_dealer_thresholds_and_escalates():
    config = PolicyConfig.model_validate(
        {"freshness": {"dealers": {"D002": {"sell_through_days": 10}}}}
    )
    freshness = pd.DataFrame(
        {
            "dealer_id": ["D001", "D002", "D003", "D004", "D005"],
            "feed": ["sell_through", "sell_through", "inventory", "sell_through", "inventory"],
            "last_report_date": [
                date(2026, 2, 26),
                date(2026, 2, 26),
                date(2026, 2, 20),
                None,
                date(2026, 2, 26),
            ],
            "days_since_report": [4, 4, 10, np.nan, 4],
        }
    )
    alerts = alerts_for(freshness=freshness, config=config)
    hit = fired(alerts, "stale_feed").set_index("dealer_id")
    # D001 4 > 3: stale; D002 4 <= 10 (override): fresh; D003 10 > 7; D004 never reported;
    # D005 inventory 4 <= 7: fresh.
    assert sorted(hit.index) == ["D001", "D003", "D004"]
    assert hit.loc["D001", "severity"] == "warning"
    assert hit.loc["D004", "severity"] == "critical"
    assert hit.loc["D001", "threshold"] == 3
    assert hit["sku"].isna().all()
    assert "4 days ago, limit 3" in hit.loc["D001", "message"]
    # 3 x the threshold is critical: 22 days of a 7-day inventory feed.
    late = freshness.iloc[[2]].assign(days_since_report=22)
    assert fired(alerts_for(freshness=late), "stale_feed")["severity"].tolist() == ["critical"]


def test_feed_rejected_names_file_and_reason():
    rejected = pd.DataFrame(
        {
            "path": ["landing/sell_through/a.csv"],
            "feed": ["sell_through"],
            "reason": ["missing column qty_sold"],
            "dealer_id": ["D009"],
        }
    )
    hit = fired(alerts_for(rejected_files=rejected), "feed_rejected")
    assert hit["dealer_id"].tolist() == ["D009"]
    assert hit["severity"].tolist() == ["critical"]
    assert "landing/sell_through/a.csv" in hit["message"].iloc[0]
    assert "missing column qty_sold" in hit["message"].iloc[0]
    assert fired(alerts_for(rejected_files=rejected.iloc[0:0]), "feed_rejected").empty


def test_partial_restatement_names_dealer_day_files_and_dropped_skus():
    restated = pd.DataFrame(
        [
            dict(file="sell_through/D2_v2.csv", dealer_id="D2", date="2026-02-20",
                 previous_file="sell_through/D2.csv", skus_previous=9, skus_delivered=2,
                 skus_dropped=7, dropped_skus=["S1", "S2", "S3", "S4", "S5", "S6", "S7"]),
            dict(file="sell_through/D1_v2.csv", dealer_id="D1", date="2026-02-21",
                 previous_file="sell_through/D1.csv", skus_previous=3, skus_delivered=2,
                 skus_dropped=1, dropped_skus=["S9"]),
        ]
    )  # fmt: skip
    hit = fired(alerts_for(restatements=restated), "partial_restatement")
    assert hit["dealer_id"].tolist() == ["D1", "D2"]
    assert hit["severity"].tolist() == ["info", "info"]
    assert hit["metric"].tolist() == [1.0, 7.0] and hit["sku"].isna().all()
    assert hit["message"].tolist() == [
        "D1 2026-02-21: file sell_through/D1_v2.csv restated the day with 2 SKU(s) where "
        "sell_through/D1.csv had 3; the sales of 1 SKU(s) (S9) that day are no longer in the "
        "numbers. Re-send them if they were left out by mistake.",
        "D2 2026-02-20: file sell_through/D2_v2.csv restated the day with 2 SKU(s) where "
        "sell_through/D2.csv had 9; the sales of 7 SKU(s) (S1, S2, S3, S4, S5 and 2 more) that "
        "day are no longer in the numbers. Re-send them if they were left out by mistake.",
    ]
    assert fired(alerts_for(), "partial_restatement").empty


def sales(**overrides) -> dict:
    row = dict(
        dealer_id="D001",
        sku="S1",
        date=date(2026, 2, 25),
        qty_sold=1.0,
        unit_price=10.0,
        customer_region="NO",
        territory="NO-01",
        list_price=10.0,
        is_cross_territory=False,
        price_deviation_pct=0.0,
    )
    row.update(overrides)
    return row


def test_cross_territory_sales_are_summed_per_pair_within_the_lookback():
    exceptions = pd.DataFrame(
        [
            sales(qty_sold=2, is_cross_territory=True, customer_region="EA"),
            sales(qty_sold=3, is_cross_territory=True, customer_region="SO"),
            sales(sku="OLD", qty_sold=5, is_cross_territory=True, date=date(2025, 12, 1)),
            sales(sku="HOME", qty_sold=9),
        ]
    )
    hit = fired(alerts_for(sales_exceptions=exceptions), "cross_territory_sale")
    assert hit["sku"].tolist() == ["S1"]
    assert hit["metric"].iloc[0] == 5
    assert "5 units in 2 sale(s)" in hit["message"].iloc[0]
    assert "EA, SO" in hit["message"].iloc[0]


def test_price_deviation_beyond_thirty_percent_of_list():
    exceptions = pd.DataFrame(
        [
            sales(sku="CHEAP", unit_price=6.0),
            sales(sku="CHEAP", unit_price=9.5),
            sales(sku="DEAR", unit_price=13.5),
            sales(sku="FAIR", unit_price=12.9),
            sales(sku="FAIR", unit_price=7.1),
        ]
    )
    hit = fired(alerts_for(sales_exceptions=exceptions), "price_deviation").set_index("sku")
    assert sorted(hit.index) == ["CHEAP", "DEAR"]
    assert hit.loc["CHEAP", "metric"] == pytest.approx(-0.4)
    assert hit.loc["DEAR", "metric"] == pytest.approx(0.35)
    assert "40% below" in hit.loc["CHEAP", "message"]


def test_forecast_bias_needs_enough_history():
    accuracy = pd.DataFrame(
        {
            "dealer_id": "D001",
            "sku": ["OVER", "UNDER", "FEW", "FINE"],
            "bias": [0.45, -0.5, 0.9, 0.1],
            "n_obs": [20, 12, 3, 40],
            "model": "ets",
        }
    )
    hit = fired(alerts_for(accuracy=accuracy), "forecast_bias").set_index("sku")
    assert sorted(hit.index) == ["OVER", "UNDER"]
    assert "45% above" in hit.loc["OVER", "message"]
    assert "50% below" in hit.loc["UNDER", "message"]


def test_disabled_rule_stays_quiet_and_severity_is_configurable():
    row = [suggestion("EMPTY", on_hand=0.0)]
    off = PolicyConfig.model_validate({"alerts": {"stockout": {"enabled": False}}})
    assert fired(alerts_for(row, config=off), "stockout").empty
    mild = PolicyConfig.model_validate({"alerts": {"stockout": {"severity": "info"}}})
    assert fired(alerts_for(row, config=mild), "stockout")["severity"].tolist() == ["info"]


def test_critical_alerts_come_first():
    alerts = alerts_for(
        [suggestion("DIP", on_hand=6.0), suggestion("EMPTY", on_hand=0.0)],
        rejected_files=pd.DataFrame({"path": ["x.csv"], "feed": ["inventory"], "reason": ["bad"]}),
    )
    ranks = alerts["severity"].map({"critical": 0, "warning": 1, "info": 2})
    assert ranks.is_monotonic_increasing
    assert alerts["run_id"].eq("r").all() and alerts["as_of"].eq(AS_OF).all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "on_hand": st.floats(-3, 300),
                "in_transit": st.floats(0, 50),
                "daily": st.floats(0, 10),
                "sigma": st.floats(0, 5),
                "lead": st.floats(0.5, 30),
                "pack": st.integers(1, 12),
            }
        ),
        min_size=1,
        max_size=8,
    )
)
def test_every_alert_on_policy_output_is_well_formed(rows):
    positions = pd.DataFrame(
        {
            "dealer_id": "D001",
            "sku": [f"S{i}" for i in range(len(rows))],
            "on_hand": [r["on_hand"] for r in rows],
            "in_transit": [r["in_transit"] for r in rows],
            "lead_time_days": [r["lead"] for r in rows],
            "pack_size": [r["pack"] for r in rows],
        }
    )
    demand = pd.DataFrame(
        {
            "dealer_id": "D001",
            "sku": positions["sku"],
            "daily_rate": [r["daily"] for r in rows],
            "sigma_daily": [r["sigma"] for r in rows],
            "demand_class": "smooth",
            "forecast_model": "ets",
        }
    )
    suggestions = compute_suggestions(positions, demand, CONFIG, run_id="r", as_of=AS_OF)
    alerts = build_alerts(suggestions, config=CONFIG, run_id="r", as_of=AS_OF)
    assert list(alerts.columns) == DESIGN_COLUMNS
    assert alerts["alert_type"].isin(DESIGN_ALERT_TYPES).all()
    assert alerts["severity"].isin(["critical", "warning", "info"]).all()
    assert alerts["message"].str.len().gt(20).all()
    assert not alerts.duplicated(["alert_type", "dealer_id", "sku"]).any()
    # The two out-of-stock rules never both fire for one pair.
    kinds = alerts.groupby("sku")["alert_type"].agg(set)
    assert not any({"stockout", "stockout_risk"} <= k for k in kinds)
    # A stock-out alert exactly for the empty shelves with demand.
    empty = suggestions[(suggestions["on_hand"] <= 0) & (suggestions["avg_daily_demand"] > 0)]
    assert set(alerts.loc[alerts["alert_type"] == "stockout", "sku"]) == set(empty["sku"])
