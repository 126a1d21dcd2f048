"""Channel conflict in dbt: the dbt unit tests of the reattribution rule, the price-list rule and
the repeat-offender flag (dbt_project/models/marts/_channel_conflict__models.yml), run by real dbt
on an empty warehouse (the unit tests bring their own rows)."""

from __future__ import annotations

import pytest

from landing.schema import raw_tables
from tests.dbt.test_dbt_project import failed_nodes, run_dbt
from warehouse import connect, ensure_tables

UNIT_TESTS = {
    "test_leaked_sales_are_the_territory_owners_demand",
    "test_leaked_sales_stay_with_the_seller_when_the_rule_is_off",
    "test_price_deviation_is_measured_against_the_price_list_in_effect",
    "test_repeat_offender_needs_repeat_months_over_the_share",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("channel-conflict")
    warehouse = work / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        ensure_tables(con, "raw", raw_tables())
    finally:
        con.close()
    models = ["fct_weekly_demand", "fct_sales_exceptions", "fct_dealer_channel_conflict"]
    select = [f"+{model}" for model in models]
    args = ["build", "--select", *select, "--indirect-selection", "cautious"]
    return run_dbt(args, warehouse, work, {"as_of": "2024-03-01"})


def test_the_channel_conflict_unit_tests_pass(built):
    assert built.success, failed_nodes(built) if built.result else built.exception
    ran = {
        r.node.name: str(r.status)
        for r in built.result.results
        if r.node.resource_type == "unit_test"
    }
    assert UNIT_TESTS <= set(ran), sorted(ran)
    assert {name: ran[name] for name in UNIT_TESTS} == dict.fromkeys(UNIT_TESTS, "pass")
