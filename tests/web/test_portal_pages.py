"""What the dealer portal shows, checked against figures computed here from the run folder and
the hand-made warehouse of `conftest.portal_warehouse` (whose tables and columns are checked
against the dbt models' declarations, so the fixture cannot drift from the real marts)."""

from __future__ import annotations

import json
import math
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import AS_OF, DEALER_MARK, INTERNAL_MARK
from test_web_scorecard import warehouse_with_marts

from warehouse import portal as portal_sql
from warehouse.approvals import APPROVED_LINES_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
OWN = "D001"
ADDED_ELSEWHERE = {"tier"}  # the tier column another change adds to the dealer marts


def suggestions(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "runs" / AS_OF / "suggestions.csv", dtype={"dealer_id": str})


def declared_columns() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / "dbt_project" / "models").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []) or []:
            found[model["name"]] = {c["name"] for c in model.get("columns", []) or []}
    return found


@pytest.fixture(scope="module")
def dora(portal_world):
    client, _ = portal_world.served.signed_in("dora")
    with client:
        yield client


def test_the_fixture_warehouse_has_the_real_tables_and_columns(portal_world):
    declared = declared_columns()
    summary = json.loads((portal_world.out / "runs" / AS_OF / "run_summary.json").read_text())
    with duckdb.connect(summary["warehouse"], read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name, list(column_name) from information_schema.columns"
            " where table_schema in ('intermediate', 'marts', 'raw') group by all"
        ).fetchall()
    assert {t for _, t, _ in tables} >= {"int_shipments_restated", "fct_dealer_escalation"}
    for schema, table, columns in tables:
        known = set(APPROVED_LINES_COLUMNS) if schema == "raw" else declared[table]
        assert set(columns) - known - ADDED_ELSEWHERE == set(), f"{schema}.{table}"


def test_the_cover_is_the_runs_position_in_days_of_demand(portal_world, dora):
    cover = dora.get(f"/api/dealers/{OWN}/cover").json()
    lines = suggestions(portal_world.out).query("dealer_id == @OWN")
    demand = lines["avg_daily_demand"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        days = np.where(demand > 0, lines["inventory_position"] / demand, np.nan)
        target = np.where(demand > 0, lines["order_up_to"] / demand, np.nan)
    expected = dict(
        zip(lines["sku"], zip(days, target, lines["on_hand"], strict=True), strict=True)
    )
    assert {s["sku"] for s in cover["skus"]} == set(expected)
    for row in cover["skus"]:
        want_days, want_target, on_hand = expected[row["sku"]]
        assert row["on_hand"] == on_hand
        if math.isnan(want_days):
            assert row["days_cover"] is None and row["target_cover"] is None
        else:
            assert row["days_cover"] == pytest.approx(want_days)
            assert row["target_cover"] == pytest.approx(want_target)
    covered = [s["days_cover"] for s in cover["skus"] if s["days_cover"] is not None]
    assert covered == sorted(covered)  # least covered first, SKUs without demand last
    page = dora.get(f"/portal/{OWN}").text
    assert page.count('<tr data-sku="') == len(expected)
    assert 'id="chart-portal-cover"' in page and "<script>" not in page


def test_incoming_shipments_and_approved_orders_with_their_dates(portal_world, dora):
    out = portal_world.out
    lead = suggestions(out).query("dealer_id == @OWN").set_index("sku")["lead_time_days"]
    run = date.fromisoformat(AS_OF)

    def plus_lead(day: str, sku: str) -> str:
        return (date.fromisoformat(day) + timedelta(days=math.ceil(lead[sku]))).isoformat()

    incoming = dora.get(f"/api/dealers/{OWN}/incoming").json()
    assert incoming["source"] == "warehouse" and incoming["problem"] is None
    # S3 was received before the last count, S6 ships after as_of, S5 is D002's
    assert [(s["shipment_id"], s["expected_arrival"], s["arrival_estimated"])
            for s in incoming["shipments"]] == [
        ("S4", "2025-06-30", False),
        ("S1", "2025-07-03", False),
        ("S2", plus_lead("2025-06-28", "SKU-00002"), True),
    ]  # fmt: skip
    decisions = pd.read_csv(out / "runs" / AS_OF / "decisions.csv", dtype={"dealer_id": str})
    today = decisions[
        (decisions["dealer_id"] == OWN)
        & (decisions["approved_qty"] > 0)
        & ~decisions["is_held"].astype(str).str.lower().eq("true")
    ]
    assert len(today) > 0
    expected = {
        ("2025-06-23", "SKU-00004", 10.0, 10.0, plus_lead("2025-06-23", "SKU-00004")),
        # A0 (6 on 06-16) and A1 (4 on 06-23) of SKU-00005 with 4 on order: the newest is open
        ("2025-06-23", "SKU-00005", 4.0, 4.0, plus_lead("2025-06-23", "SKU-00005")),
    } | {
        (AS_OF, sku, qty, qty, plus_lead(AS_OF, sku))
        for sku, qty in zip(today["sku"], today["approved_qty"], strict=True)
    }
    got = [(a["approved_on"], a["sku"], a["approved_qty"], a["open_qty"], a["expected_arrival"])
           for a in incoming["approved"]]  # fmt: skip
    assert set(got) == expected and len(got) == len(expected)
    assert [g[4] for g in got] == sorted(g[4] for g in got)
    held = decisions[(decisions["dealer_id"] == OWN) & (decisions["sku"] == "SKU-00003")]
    assert held["is_held"].astype(str).str.lower().tolist() == ["true"]
    assert (AS_OF, "SKU-00003") not in {(g[0], g[1]) for g in got}
    assert run.isoformat() == AS_OF
    page = dora.get(f"/portal/{OWN}/incoming").text
    # Shipment ids are table cells: a bare "S5" could also sit in the page's random CSRF token.
    assert "<td>S1</td>" in page and "<td>S5</td>" not in page
    assert "estimated: ship date + lead time" in page


def tiny_warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema intermediate; create schema marts; create schema raw")
    con.execute("create table intermediate.int_as_of_date as select date '2025-06-30' as_of_date")
    con.execute(
        "create table marts.fct_replenishment_inputs as select 'X' dealer_id, 'K' sku,"
        " 2.5 lead_time_days"
    )
    con.execute(
        "create table raw.approved_lines (approval_id varchar, as_of date, dealer_id varchar,"
        " sku varchar, approved_qty double, is_held boolean, note varchar, approved_at timestamp)"
    )
    return con


def test_on_order_goes_to_the_newest_approvals_first():
    con = tiny_warehouse()
    con.execute(
        "insert into raw.approved_lines values"
        " ('a', date '2025-06-09', 'X', 'K', 5, false, 'n', timestamp '2025-06-09 08:00'),"
        " ('b', date '2025-06-16', 'X', 'K', 6, false, 'n', timestamp '2025-06-16 08:00'),"
        # re-approved the same run: the later approval counts, once
        " ('c', date '2025-06-23', 'X', 'K', 9, false, 'n', timestamp '2025-06-23 08:00'),"
        " ('d', date '2025-06-23', 'X', 'K', 4, false, 'n', timestamp '2025-06-23 10:00'),"
        " ('e', date '2025-06-30', 'X', 'K', 3, false, 'n', timestamp '2025-06-30 08:00'),"
        " ('f', date '2025-06-30', 'X', 'J', 8, true, 'n', timestamp '2025-06-30 08:00'),"
        " ('g', date '2025-06-30', 'Y', 'K', 8, false, 'n', timestamp '2025-06-30 08:00')"
    )
    # 7 of the approvals before as_of are not shipped yet (int_on_order_computed)
    con.execute(
        "create table intermediate.int_on_order_computed as select 'X' dealer_id, 'K' sku,"
        " 7.0 on_order"
    )
    found = portal_sql.approved_orders(con, "X")
    # open: 3 (today's, e) + 7 -> e 3, d 4, b 3 of 6, a nothing; lead 2.5 days -> 3 days
    assert list(zip(found["approval_id"], found["open_qty"], strict=True)) == [
        ("b", 3.0), ("d", 4.0), ("e", 3.0)
    ]  # fmt: skip
    assert [d.isoformat()[:10] for d in found["expected_arrival"]] == [
        "2025-06-19", "2025-06-26", "2025-07-03"
    ]  # fmt: skip
    assert "note" not in found.columns


def test_lines_show_reasons_and_dealer_notes_never_internal_ones(portal_world, dora):
    page = dora.get(f"/portal/{OWN}/lines").text
    assert INTERNAL_MARK not in page
    rows = dict(re.findall(r'<tr data-sku="([^"]+)">(.*?)</tr>', page, flags=re.S))
    lines = suggestions(portal_world.out).query("dealer_id == @OWN")
    assert set(rows) == set(lines["sku"])
    for sku in ("SKU-00001", "SKU-00002", "SKU-00003"):
        assert f"{DEALER_MARK} {OWN} {sku}" in rows[sku]
    assert "held" in rows["SKU-00003"]
    reason = lines.set_index("sku").loc["SKU-00004", "reason"]
    assert reason.split(";")[0] in rows["SKU-00004"]
    assert f"/portal/{OWN}/exports/{AS_OF}/{OWN}.csv" in page
    assert f"/portal/{OWN}/exports/{AS_OF}/{OWN}.xlsx" in page


def test_the_scorecard_against_the_tier(dora):
    page = dora.get(f"/portal/{OWN}/scorecard").text
    assert re.search(r'id="tier">gold<', page)
    assert "warning since the quarter of 2025-04-01" in page
    kpis = re.search(r'id="scorecard-kpis">(.*?)</table>', page, flags=re.S).group(1)
    assert re.search(r"sell through rate</td><td[^>]*>0\.31</td><td[^>]*>0\.50</td><td>no", kpis)
    quarters = re.findall(r"<tr><td>(2025-\d\d-01)</td>", page)
    assert quarters == ["2025-01-01", "2025-04-01"]


def test_without_a_warehouse_or_a_tier(served, run_out, tmp_path):
    """No warehouse: approvals from the run folder; a warehouse without tier: no tier shown."""
    planner, token = served.signed_in("ann")
    with planner:
        assert planner.post(
            f"/api/runs/{AS_OF}/approve", headers={"X-CSRF-Token": token}
        ).is_success
    decisions = pd.read_csv(run_out / "runs" / AS_OF / "decisions.csv", dtype={"dealer_id": str})
    shipping = decisions[(decisions["dealer_id"] == OWN) & (decisions["approved_qty"] > 0)]
    dealer, _ = served.signed_in("dora")
    with dealer:
        incoming = dealer.get(f"/api/dealers/{OWN}/incoming").json()
        assert incoming["source"] == "run folder" and "no warehouse" in incoming["problem"]
        assert sorted(a["sku"] for a in incoming["approved"]) == sorted(shipping["sku"])
        assert (
            "Shipments on the way are not available" in dealer.get(f"/portal/{OWN}/incoming").text
        )
        assert "no warehouse known" in dealer.get(f"/portal/{OWN}/scorecard").text

        warehouse = tmp_path / "wh.duckdb"
        warehouse_with_marts(warehouse)
        summary = run_out / "runs" / AS_OF / "run_summary.json"
        payload = json.loads(summary.read_text()) if summary.exists() else {}
        summary.write_text(json.dumps({**payload, "warehouse": str(warehouse)}))
        page = dealer.get(f"/portal/{OWN}/scorecard").text
        assert 'id="tier"' not in page and "warning since the quarter of 2025-04-01" in page
        incoming = dealer.get(f"/api/dealers/{OWN}/incoming").json()
        assert "not in this warehouse yet" in incoming["problem"]


def test_a_busy_warehouse_is_said_in_one_line(portal_world, dora):
    summary = json.loads((portal_world.out / "runs" / AS_OF / "run_summary.json").read_text())
    with duckdb.connect(summary["warehouse"]):  # read-write, as the nightly run holds it
        incoming = dora.get(f"/api/dealers/{OWN}/incoming").json()
        page = dora.get(f"/portal/{OWN}/scorecard").text
    assert incoming["problem"] == (
        "the warehouse is busy (the nightly run?): try again in a few minutes"
    )
    assert incoming["source"] == "run folder" and incoming["shipments"] == []
    assert {a["approved_on"] for a in incoming["approved"]} == {AS_OF}  # tonight's approval
    assert "the warehouse is busy" in page and summary["warehouse"] not in page
    assert dora.get(f"/api/dealers/{OWN}/incoming").json()["problem"] is None  # released
