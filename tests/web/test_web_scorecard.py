"""`GET /api/dealers/{dealer_id}/scorecard`: the marts of the run's warehouse, scoped by role."""

from __future__ import annotations

import json

import duckdb
from conftest import AS_OF


def warehouse_with_marts(path):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_dealer_scorecard_quarterly as select * from (values"
        " ('D001', date '2025-01-01', 0.8, true), ('D001', date '2025-04-01', 0.4, false),"
        " ('D002', date '2025-04-01', 0.9, false)) t(dealer_id, quarter_start, score,"
        " below_benchmark)"
    )
    con.execute(
        "create table marts.fct_dealer_escalation as select * from (values"
        " ('D001', 'warning', date '2025-04-01'), ('D002', 'ok', date '2025-01-01'))"
        " t(dealer_id, state, since_quarter)"
    )
    con.execute(
        "create table marts.fct_bullwhip as select * from (values"
        " ('D001', null, true, 1.7), ('D001', 'SKU-00001', false, 2.5))"
        " t(dealer_id, sku, is_dealer_total, variance_ratio)"
    )
    con.execute(
        "create table marts.fct_dealer_channel_conflict as select * from (values"
        " ('D002', date '2025-05-01', 0.30, true), ('D001', date '2025-06-01', 0.05, false),"
        " ('D001', date '2025-05-01', 0.10, false)) t(dealer_id, month_start,"
        " cross_territory_share, is_repeat_offender)"
    )
    con.close()


def test_a_dealers_scorecard_from_the_marts(served, run_out, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    warehouse_with_marts(warehouse)
    summary = run_out / "runs" / AS_OF / "run_summary.json"
    payload = json.loads(summary.read_text()) if summary.exists() else {}
    summary.write_text(json.dumps({**payload, "warehouse": str(warehouse)}))

    with served.client() as anonymous:
        assert anonymous.get("/api/dealers/D001/scorecard").status_code == 401
    viewer, _ = served.signed_in("vic")
    with viewer:
        card = viewer.get("/api/dealers/D001/scorecard").json()
        assert [q["quarter_start"] for q in card["quarters"]] == ["2025-01-01", "2025-04-01"]
        assert card["escalation"] == {
            "dealer_id": "D001",
            "state": "warning",
            "since_quarter": "2025-04-01",
        }
        assert card["bullwhip"]["variance_ratio"] == 1.7
        months = [(m["month_start"], m["cross_territory_share"]) for m in card["channel_conflict"]]
        assert months == [("2025-05-01", 0.10), ("2025-06-01", 0.05)]  # D001's only, oldest first
        assert viewer.get("/api/dealers/D999/scorecard").status_code == 404
    dealer, _ = served.signed_in("dora")  # bound to D001
    with dealer:
        assert dealer.get("/api/dealers/D001/scorecard").json()["escalation"]["state"] == "warning"
        assert dealer.get("/api/dealers/D002/scorecard").status_code == 404
