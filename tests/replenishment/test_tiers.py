"""Dealer tiers in policy.yml, their dbt vars, and the dealer_escalation alert."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from replenishment.alerts import build_alerts
from replenishment.config import ConfigError, PolicyConfig, load_policy_config
from replenishment.policy import SUGGESTION_COLUMNS
from replenishment.tiers import (
    TIER_PROPOSAL_COLUMNS,
    policy_dbt_vars,
    tier_proposal_rows,
    tier_vars,
)

AS_OF = date(2026, 11, 29)
ROOT = Path(__file__).resolve().parents[2]
NO_LINES = pd.DataFrame({column: pd.Series(dtype=float) for column in SUGGESTION_COLUMNS})


def write(tmp_path, text: str):
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_tier_keeps_the_benchmarks_of_before_tiers():
    # The default tier's scorecard rules are dbt_project.yml's single-tier defaults, so a dealer
    # whose master row names no tier is judged as before tiers existed.
    config = load_policy_config()
    silver = config.tiers[config.default_tier]
    assert silver.benchmarks.model_dump() == {
        "sell_through_rate": 0.85, "inventory_turnover": 4.5, "stockout_share": 0.03,
        "slow_mover_share": 0.05, "count_coverage": 0.9, "days_of_inventory": 16,
        "cross_territory_share": 0.02, "price_breach_share": 0.05, "feed_timeliness": 0.9,
        "forecast_wape": 0.6,
    }  # fmt: skip
    project = yaml.safe_load((ROOT / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"]["scorecard_benchmarks"] == silver.benchmarks.model_dump()
    assert (silver.escalation.min_score, silver.escalation.warning_quarters) == (0.6, 2)
    ranks = {name: tier.rank for name, tier in config.tiers.items()}
    assert ranks == {"bronze": 1, "silver": 2, "gold": 3}


def test_tier_vars_carry_every_rule_for_dbt(tmp_path):
    config = load_policy_config(
        write(
            tmp_path,
            "default_tier: basic\n"
            "tiers:\n"
            "  basic: {rank: 1}\n"
            "  top:\n"
            "    rank: 2\n"
            "    benchmarks: {inventory_turnover: 1.5}\n"
            "    rebate_steps: [{rate: 0.03, min_turnover: 1.5, min_sales_value: 1000}]\n"
            "    credit: {base_limit: 500, max_limit: 900}\n"
            "    escalation: {min_score: 0.8, warning_quarters: 1}\n",
        )
    )
    out = tier_vars(config)
    assert out["default_tier"] == "basic"
    assert list(out["dealer_tiers"]) == ["basic", "top"]
    top = out["dealer_tiers"]["top"]
    assert top["rank"] == 2
    assert top["benchmarks"]["inventory_turnover"] == 1.5
    assert top["benchmarks"]["sell_through_rate"] == 0.85  # unnamed KPIs keep the defaults
    # ... also those added after older policy files were written.
    assert top["benchmarks"]["days_of_inventory"] == 16
    assert top["benchmarks"]["forecast_wape"] == 0.6
    assert (top["min_score"], top["warning_quarters"], top["exit_review_quarters"]) == (0.8, 1, 4)
    assert top["credit"]["base_limit"] == 500 and top["credit"]["max_limit"] == 900
    assert top["rebate_steps"] == [
        {"rate": 0.03, "min_turnover": 1.5, "max_slow_mover_share": 1.0, "min_sales_value": 1000}
    ]
    assert out["dealer_tiers"]["basic"]["rebate_steps"] == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tiers: {a: {rank: 1}}\n", "default_tier: 'silver' is not one of the tiers (a)"),
        ("default_tier: a\ntiers: {a: {rank: 1}, b: {rank: 1}}\n", "each tier needs its own rank"),
        (
            "tiers: {silver: {rank: 2, escalation: {warning_quarters: 3, "
            "improvement_plan_quarters: 2}}}\n",
            "warning_quarters <= improvement_plan_quarters",
        ),
        ("tiers: {silver: {rank: 1, rebate_steps: [{rate: 0.9}]}}\n", "tiers.silver.rebate_steps"),
        ("tiers: {silver: {rank: 1, benchmarks: {turnover: 1}}}\n", "unknown key"),
        ('default_tier: "x\'y"\ntiers: {"x\'y": {rank: 1}}\n', "should match pattern"),
    ],
)
def test_bad_tier_rules_are_one_line_errors(tmp_path, text, problem):
    with pytest.raises(ConfigError) as error:
        load_policy_config(write(tmp_path, text))
    message = str(error.value)
    assert problem in message and "\n" not in message
    assert "Value error" not in message and "(top level)" not in message


def escalation_walk(rows):
    return pd.DataFrame(
        rows, columns=["dealer_id", "tier", "quarter_start", "score", "quarters_below", "state"]
    )


def test_dealer_escalation_fires_on_a_change_in_the_latest_quarter():
    walk = escalation_walk(
        [
            # D1 slides: ok -> warning in the latest quarter (2026-07-01).
            ("D1", "silver", "2026-01-01", 0.4, 1, "ok"),
            ("D1", "silver", "2026-04-01", 0.4, 1, "ok"),
            ("D1", "silver", "2026-07-01", 0.2, 2, "warning"),
            # D2 recovers: warning -> ok (info).
            ("D2", "gold", "2026-04-01", 0.2, 2, "warning"),
            ("D2", "gold", "2026-07-01", 0.9, 0, "ok"),
            # D3 reaches exit review (critical).
            ("D3", "bronze", "2026-04-01", 0.2, 3, "improvement_plan"),
            ("D3", "bronze", "2026-07-01", 0.2, 4, "exit_review"),
            # D4 stays in warning: no change, no alert. D5 changed a quarter earlier: none.
            ("D4", "silver", "2026-04-01", 0.2, 2, "warning"),
            ("D4", "silver", "2026-07-01", 0.2, 3, "warning"),
            ("D5", "silver", "2026-01-01", 0.2, 1, "ok"),
            ("D5", "silver", "2026-04-01", 0.2, 2, "warning"),
            # D6 has no earlier quarter: its first one counts as a change from ok.
            ("D6", "silver", "2026-07-01", 0.0, 2, "warning"),
        ]
    )
    suggestions = NO_LINES
    alerts = build_alerts(
        suggestions, escalation=walk, config=PolicyConfig(), run_id="r", as_of=AS_OF
    )
    fired = alerts[alerts["alert_type"] == "dealer_escalation"].set_index("dealer_id")
    assert fired["severity"].to_dict() == {
        "D3": "critical", "D1": "warning", "D6": "warning", "D2": "info",
    }  # fmt: skip
    assert fired.loc["D1", "metric"] == 2
    assert fired.loc["D1", "message"] == (
        "D1: escalation ok -> warning in the quarter from 2026-07-01 (2 consecutive quarter(s) "
        "below its silver benchmarks, score 0.2); formal warning: agree an improvement plan."
    )
    assert "warning -> ok" in fired.loc["D2", "message"]
    assert "at or above its gold benchmarks" in fired.loc["D2", "message"]
    assert (fired["sku"].isna() | (fired["sku"] == "")).all()


def test_dealer_escalation_can_be_switched_off_and_made_critical():
    walk = escalation_walk([("D1", "silver", "2026-07-01", 0.2, 2, "warning")])
    suggestions = NO_LINES
    off = PolicyConfig.model_validate({"alerts": {"dealer_escalation": {"enabled": False}}})
    assert build_alerts(suggestions, escalation=walk, config=off, run_id="r", as_of=AS_OF).empty
    loud = PolicyConfig.model_validate(
        {"alerts": {"dealer_escalation": {"critical_states": ["warning"]}}}
    )
    alerts = build_alerts(suggestions, escalation=walk, config=loud, run_id="r", as_of=AS_OF)
    assert list(alerts["severity"]) == ["critical"]


def test_tier_proposal_rows_lead_with_the_contract_columns():
    mart = pd.DataFrame(
        {
            "dealer_id": ["D2", "D1"], "current_tier": ["silver", "gold"],
            "proposed_tier": ["gold", "gold"], "change": ["promote", "keep"],
            "quarter_start": pd.to_datetime(["2026-07-01", "2026-07-01"]),
            "rebate_rate": [0.02, 0.03], "credit_limit": [9000.0, 30000.0],
            "reason": ["Promote silver -> gold: ...", "Stays gold: ..."],
        }
    )  # fmt: skip
    rows = tier_proposal_rows(mart, "r1", AS_OF)
    assert list(rows.columns[2 : 2 + len(TIER_PROPOSAL_COLUMNS)]) == TIER_PROPOSAL_COLUMNS
    assert list(rows["dealer_id"]) == ["D1", "D2"]
    assert rows["quarter_start"].iloc[0] == date(2026, 7, 1)
    assert tier_proposal_rows(None, "r1", AS_OF).empty


def test_dealers_tier_column_is_optional_and_a_long_tier_is_quarantined():
    from landing.schema import DEALERS
    from landing.validate import coerce, validate_frame

    raw = pd.DataFrame(
        {
            "dealer_id": ["D1", "D2", "D3"], "dealer_name": ["a", "b", "c"],
            "region": ["N"] * 3, "territory": ["NO-01"] * 3, "lead_time_days": ["7"] * 3,
            "lead_time_sd_days": ["1"] * 3, "review_period_days": ["7"] * 3,
            "tier": ["gold", "", "x" * 41],
        },
        dtype=object,
        index=[2, 3, 4],
    )  # fmt: skip
    typed, type_failures = coerce(DEALERS, raw)
    assert type_failures.empty
    failed = validate_frame(
        DEALERS, typed.assign(source_file="dealers.csv"), known_dealers=None, known_skus=None,
        as_of=AS_OF,
    )  # fmt: skip
    assert sorted(zip(failed["row"], failed["rule"], failed["column"], strict=True)) == [
        (4, "too_long", "tier")
    ]
    assert "tier" not in DEALERS.required_columns


def test_a_warehouse_from_before_tiers_gains_the_column_and_keeps_its_rows():
    import duckdb

    from landing.schema import raw_tables
    from warehouse.connection import ensure_tables

    con = duckdb.connect(":memory:")
    old_ddl = raw_tables()["dealers"].replace(', "tier" VARCHAR', "")
    assert old_ddl != raw_tables()["dealers"]
    ensure_tables(con, "raw", {"dealers": old_ddl})
    con.execute("insert into raw.dealers (dealer_id, region) values ('D1', 'North')")
    ensure_tables(con, "raw", raw_tables())
    assert con.execute("select dealer_id, region, tier from raw.dealers").fetchall() == [
        ("D1", "North", None)
    ]
    # A later ingest inserts by name, the tier included.
    con.execute("insert into raw.dealers by name select 'D2' as dealer_id, 'gold' as tier")
    assert con.execute("select tier from raw.dealers order by dealer_id").fetchall() == [
        (None,),
        ("gold",),
    ]


def test_policy_dbt_vars_carry_the_scorecards_tolerance_and_freshness_limits(tmp_path):
    path = write(
        tmp_path,
        "alerts: {price_deviation: {max_abs_deviation: 0.2}}\n"
        "freshness: {sell_through_days: 2, dealers: {D7: {inventory_days: 14}}}\n",
    )
    out = policy_dbt_vars(path)
    assert out["price_breach_max_abs_deviation"] == 0.2
    assert out["feed_freshness_days"] == {"sell_through": 2, "inventory": 7}
    assert out["feed_freshness_dealer_days"] == {"D7": {"inventory": 14}}
