"""End to end on a generated dealer network (`dealer_network=True`): one nightly run.

The world (6 dealers x 20 SKUs x 400 days ending 2026-11-29) has a dealer whose orders balloon
from the start of the second-to-last complete quarter, a dealer selling a share of its sales into
a neighbour's territory every month, a price list and a supply cap on its best sellers. The
checks recompute what to expect from the generator's parameters and the landing files, not from
the pipeline's own code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

WORLD = dict(dealers=6, skus=20, days=400, seed=11)
END = dt.date(2026, 11, 29)


@pytest.fixture(scope="module")
def network_run(prefect_api, tmp_path_factory):
    import sampledata
    from flows.nightly import nightly_replenishment

    base = tmp_path_factory.mktemp("network")
    landing, warehouse, out = base / "landing", base / "warehouse.duckdb", base / "out"
    sampledata.generate(landing, dealer_network=True, **WORLD)
    world = sampledata.build_world(dealer_network=True, **WORLD)
    folder = nightly_replenishment(landing=str(landing), warehouse=str(warehouse), out=str(out))
    return world, landing, warehouse, Path(folder)


def query(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_the_sliding_dealer_reaches_warning_in_the_last_complete_quarter(network_run):
    world, _, warehouse, _ = network_run
    # By hand: quarters end Mar 31, Jun 30, Sep 30, Dec 31. On 2026-11-29 the last complete one
    # is Q3 2026; the slide starts with Q2 (SLIDE_PLAN_FACTOR from 2026-04-01), so Q2 and Q3 are
    # below benchmark and the second of them is the warning's quarter.
    slide_start = world.dates[0] + pd.Timedelta(days=world.features.slide_start)
    assert pd.Timestamp(slide_start) == pd.Timestamp("2026-04-01")
    escalation = query(warehouse, "select * from marts.fct_dealer_escalation").set_index(
        "dealer_id"
    )
    slider = world.features.slide_dealer
    assert escalation.loc[slider, "state"] == "warning"
    assert pd.Timestamp(escalation.loc[slider, "since_quarter"]) == pd.Timestamp("2026-07-01")
    walk = query(
        warehouse,
        f"select quarter_start, below_benchmark from marts.fct_dealer_scorecard_quarterly "
        f"where dealer_id = '{slider}' order by quarter_start",
    )
    assert walk["below_benchmark"].tolist()[-3:] == [False, True, True]
    # Nobody else slides.
    assert (escalation.drop(index=slider)["state"] == "ok").all()


def test_the_repeat_cross_territory_seller_is_flagged_and_only_it(network_run):
    world, landing, warehouse, _ = network_run
    latest = query(
        warehouse, "select * from marts.fct_dealer_channel_conflict where is_latest_month"
    ).set_index("dealer_id")
    flagged = set(latest.index[latest["is_repeat_offender"]])
    assert flagged == {world.features.cross_dealer}
    # Its October share, from the landing files: units sold into another territory / units sold.
    dealers = pd.read_csv(landing / "master" / "dealers.csv").set_index("dealer_id")
    sales = world.sell_through
    october = sales[
        (sales["dealer_id"] == world.features.cross_dealer)
        & (sales["qty_sold"] > 0)
        & (sales["date"].dt.strftime("%Y-%m") == "2026-10")
    ]
    leaked = october["customer_region"] != dealers.loc[world.features.cross_dealer, "territory"]
    share = october.loc[leaked, "qty_sold"].sum() / october["qty_sold"].sum()
    assert latest.loc[world.features.cross_dealer, "cross_territory_share"] == pytest.approx(share)


def test_leaked_sales_are_moved_to_the_territory_owner(network_run):
    world, landing, warehouse, _ = network_run
    # As of 2026-11-29, a Sunday: every week is complete, so the weeks hold every sale.
    weekly = query(
        warehouse,
        "select dealer_id, sku, sum(qty_sold) as qty from marts.fct_weekly_demand group by 1, 2",
    ).set_index(["dealer_id", "sku"])["qty"]
    pairs = set(weekly.index)
    dealers = pd.read_csv(landing / "master" / "dealers.csv")
    owner_of = dict(zip(dealers["territory"], dealers["dealer_id"], strict=True))
    territory_of = dict(zip(dealers["dealer_id"], dealers["territory"], strict=True))
    sales = world.sell_through[world.sell_through["qty_sold"] > 0]
    demand_dealer = [
        owner_of[region]
        if region != territory_of[dealer] and (owner_of.get(region), sku) in pairs
        else dealer
        for dealer, sku, region in zip(
            sales["dealer_id"], sales["sku"], sales["customer_region"], strict=True
        )
    ]
    expected = sales.groupby([demand_dealer, sales["sku"]])["qty_sold"].sum()
    owner = owner_of[world.features.cross_territory]
    for who in (world.features.cross_dealer, owner):
        got = weekly[weekly.index.get_level_values(0) == who]
        want = expected.reindex(got.index, fill_value=0)
        assert got.tolist() == want.tolist(), who
    # The seller's weeks lost what it leaked, and only that.
    seller = weekly[weekly.index.get_level_values(0) == world.features.cross_dealer].sum()
    sold = sales.loc[sales["dealer_id"] == world.features.cross_dealer, "qty_sold"].sum()
    assert seller < sold


def test_capped_skus_are_allocated_within_the_available_supply(network_run):
    _, landing, _, folder = network_run
    supply = pd.read_csv(landing / "master" / "supply.csv").set_index("sku")["available_qty"]
    lines = pd.read_csv(folder / "suggestions.csv")
    assert "allocated_qty" in lines
    capped = lines[lines["sku"].isin(supply.index)]
    asked = capped.groupby("sku")["suggested_qty"].sum()
    given = capped.groupby("sku")["allocated_qty"].sum()
    assert (given <= supply.reindex(given.index)).all()
    short = asked.index[asked > supply.reindex(asked.index)]
    assert len(short) >= 1, "the cap must bind on at least one SKU"
    assert (capped["allocated_qty"] <= capped["suggested_qty"]).all()
    assert (capped["allocated_qty"] % capped["pack_size"] == 0).all()
    cut = capped[capped["allocated_qty"] < capped["suggested_qty"]]
    assert len(cut) >= 1 and cut["reason"].str.contains("SKU short").all()
    others = lines[~lines["sku"].isin(supply.index)]
    assert (others["allocated_qty"] == others["suggested_qty"]).all()


def test_approving_the_night_orders_the_allocated_quantities(network_run):
    from planner.approve import approve_run

    _, landing, _, folder = network_run
    approve_run(folder.parent.parent, END, None, approved_by="network test")
    orders = pd.concat(pd.read_csv(path) for path in sorted((folder / "orders").glob("*.csv")))
    lines = pd.read_csv(folder / "suggestions.csv").set_index(["dealer_id", "sku"])
    ordered = orders.set_index(["dealer_id", "sku"])["qty"]
    assert ordered.tolist() == lines.loc[ordered.index, "allocated_qty"].tolist()
    supply = pd.read_csv(landing / "master" / "supply.csv").set_index("sku")["available_qty"]
    per_sku = orders.groupby("sku")["qty"].sum()
    capped = per_sku[per_sku.index.isin(supply.index)]
    assert len(capped) and (capped <= supply.reindex(capped.index)).all()
