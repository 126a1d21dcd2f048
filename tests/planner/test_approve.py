"""Approval of a run (overrides, orders, audit, warehouse) and the dealer exports."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from planner.approve import ApprovalError, approve_run
from warehouse import connect

AS_OF = date(2025, 6, 30)
SUGGESTION_COLUMNS = [
    "run_id",
    "as_of",
    "dealer_id",
    "sku",
    "on_hand",
    "in_transit",
    "on_order",
    "inventory_position",
    "avg_daily_demand",
    "demand_class",
    "forecast_model",
    "lead_time_days",
    "lead_time_sd_days",
    "review_period_days",
    "protection_days",
    "demand_over_protection",
    "sigma_over_protection",
    "service_level",
    "z",
    "safety_stock",
    "order_up_to",
    "raw_need",
    "pack_size",
    "moq",
    "suggested_qty",
    "reason",
]
# dealer, sku, on_hand, in_transit, position, daily demand, pack, suggested
LINES = [
    ("D1", "S1", 5, 0, 5, 1.0, 6, 12),
    ("D1", "S2", 10, 0, 10, 0.5, 1, 3),
    ("D1", "S3", 100, 0, 100, 0.0, 10, 0),
    ("D2", "S1", 2, 0, 2, 2.0, 6, 6),
    ("D2", "S2", 1, 2, 3, 0.25, 1, 0),
]


def make_run(out_dir: Path, as_of: date = AS_OF, warehouse: Path | None = None) -> Path:
    run_dir = out_dir / "runs" / as_of.isoformat()
    run_dir.mkdir(parents=True)
    rows = []
    for dealer, sku, on_hand, in_transit, position, daily, pack, suggested in LINES:
        rows.append(
            {
                "run_id": f"run-{as_of}",
                "as_of": as_of.isoformat(),
                "dealer_id": dealer,
                "sku": sku,
                "on_hand": on_hand,
                "in_transit": in_transit,
                "on_order": 0,
                "inventory_position": position,
                "avg_daily_demand": daily,
                "demand_class": "smooth",
                "forecast_model": "ets",
                "lead_time_days": 7,
                "lead_time_sd_days": 1,
                "review_period_days": 7,
                "protection_days": 14,
                "demand_over_protection": daily * 14,
                "sigma_over_protection": 1.0,
                "service_level": 0.95,
                "z": 1.645,
                "safety_stock": 1.645,
                "order_up_to": daily * 14 + 1.645,
                "raw_need": 0,
                "pack_size": pack,
                "moq": pack,
                "suggested_qty": suggested,
                "reason": "hand-made line",
            }
        )
    pd.DataFrame(rows, columns=SUGGESTION_COLUMNS).to_csv(run_dir / "suggestions.csv", index=False)
    pd.DataFrame(
        {
            "dealer_id": ["D1", "D1", "D1", "D2", "D2"],
            "sku": ["S1", "S2", "S3", "S1", "S2"],
            "dealer_name": ["North Motors"] * 3 + ["South Bikes"] * 2,
            "region": "n",
            "category": "brakes",
            "description": "pad",
            "unit_cost": [10.0, 2.5, 1.0, 10.0, 2.5],
            "abc_class": "A",
        }
    ).to_csv(run_dir / "items.csv", index=False)
    (run_dir / "run_summary.json").write_text(
        json.dumps(
            {
                "run_id": f"run-{as_of}",
                "as_of": as_of.isoformat(),
                "warehouse": str(warehouse) if warehouse else None,
                "files": [],
                "stages": [],
                "alerts": {},
            }
        )
    )
    return run_dir


def write_overrides(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """dealer_id,sku,qty,hold,note
D1,S1,18,,promo next week
D1,S2,,yes,dealer closed for stock take
D2,S2,4,false,new customer
"""


def read_order(run_dir: Path, dealer: str) -> pd.DataFrame:
    return pd.read_csv(
        run_dir / "orders" / f"{dealer}.csv",
        dtype={"dealer_id": str, "sku": str},
        keep_default_na=False,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_approve_without_overrides_ships_the_suggestions(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    result = approve_run(tmp_path, AS_OF, None, approved_by="ana")
    assert sorted(p.name for p in (run_dir / "orders").iterdir()) == ["D1.csv", "D2.csv"]
    d1 = read_order(run_dir, "D1")
    assert list(d1.columns) == ["dealer_id", "sku", "qty", "suggested_qty", "changed", "note"]
    assert d1[["sku", "qty"]].values.tolist() == [["S1", 12], ["S2", 3]]
    assert not d1["changed"].any()
    assert result.lines == 3 and result.changed == 0 and result.units == 21


def test_good_overrides(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    overrides = write_overrides(tmp_path / "overrides.csv", GOOD)
    result = approve_run(tmp_path, AS_OF, overrides, approved_by="ana")

    d1 = read_order(run_dir, "D1")
    # S2 is held: it is not shipped.
    assert d1.to_dict("records") == [
        {
            "dealer_id": "D1",
            "sku": "S1",
            "qty": 18,
            "suggested_qty": 12,
            "changed": True,
            "note": "promo next week",
        }
    ]
    d2 = read_order(run_dir, "D2")
    assert d2[["sku", "qty", "suggested_qty", "changed", "note"]].values.tolist() == [
        ["S1", 6, 6, False, ""],
        ["S2", 4, 0, True, "new customer"],
    ]

    approval = json.loads((run_dir / "approval.json").read_text())
    assert approval["approved_by"] == "ana" and approval["as_of"] == "2025-06-30"
    assert approval["counts"]["lines"] == 4  # D1/S3 has no suggestion and no override
    assert approval["counts"]["held"] == 1 and approval["counts"]["changed"] == 3
    assert approval["counts"]["units"] == 18 + 6 + 4
    assert (result.held, result.changed, result.units) == (1, 3, 28)

    audit = pd.read_csv(run_dir / "audit.csv", dtype={"note": str}, keep_default_na=False)
    assert list(audit.columns) == [
        "approved_at",
        "approved_by",
        "dealer_id",
        "sku",
        "suggested_qty",
        "approved_qty",
        "is_held",
        "note",
    ]
    held = audit[audit.sku.eq("S2") & audit.dealer_id.eq("D1")].iloc[0]
    assert held.approved_qty == 0 and bool(held.is_held) and held.suggested_qty == 3
    assert set(audit.approved_by) == {"ana"}


def test_xlsx_overrides(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    book = Workbook()
    sheet = book.active
    for row in [
        ["Dealer_ID ", "SKU", "Qty", "Hold", "Note"],
        ["D1", "S1", 18, None, "promo"],
        ["D1", "S2", None, True, None],
    ]:
        sheet.append(row)
    book.save(tmp_path / "overrides.xlsx")
    approve_run(tmp_path, AS_OF, tmp_path / "overrides.xlsx", approved_by="ana")
    assert read_order(run_dir, "D1")[["sku", "qty"]].values.tolist() == [["S1", 18]]


def test_reapproval_replaces_orders_and_appends_audit(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    approve_run(tmp_path, AS_OF, None, approved_by="ana")
    assert (run_dir / "orders" / "D2.csv").exists()
    # Second decision: hold D2's only shipped line, so D2 gets no order file any more.
    overrides = write_overrides(tmp_path / "o.csv", "dealer_id,sku,hold\nD2,S1,1\n")
    approve_run(tmp_path, AS_OF, overrides, approved_by="ben")
    assert sorted(p.name for p in (run_dir / "orders").iterdir()) == ["D1.csv"]
    audit = pd.read_csv(run_dir / "audit.csv")
    assert audit.approved_by.value_counts().to_dict() == {"ana": 3, "ben": 3}
    assert json.loads((run_dir / "approval.json").read_text())["approved_by"] == "ben"
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]  # no temp left over


BAD_CASES = {
    "unknown dealer": ("dealer_id,sku,qty\nD1,S1,6\nD9,S1,6\n", 3, "dealer_id", "unknown dealer"),
    "unknown sku": ("dealer_id,sku,qty\nD1,S1,6\nD2,S3,6\n", 3, "sku", "unknown SKU"),
    "negative qty": ("dealer_id,sku,qty\nD1,S1,-6\n", 2, "qty", "negative"),
    "not a pack multiple": ("dealer_id,sku,qty\nD1,S1,7\n", 2, "qty", "multiple of pack size 6"),
    "qty not a number": ("dealer_id,sku,qty\nD1,S1,lots\n", 2, "qty", "not a number"),
    "held with a quantity": ("dealer_id,sku,qty,hold\nD1,S1,12,true\n", 2, "hold", "hold is true"),
    "bad hold word": ("dealer_id,sku,hold\nD1,S1,maybe\n", 2, "hold", "maybe"),
    "duplicate line": (
        "dealer_id,sku,qty\nD1,S1,6\nD1,S2,1\nD1,S1,12\n",
        4,
        "sku",
        "duplicate line",
    ),
    "unknown column": ("dealer_id,sku,qyt\nD1,S1,6\n", 1, "qyt", "unknown column"),
    "missing column": ("dealer_id,qty\nD1,6\n", 1, "sku", "missing required column"),
    # A quoted note spanning two physical lines: numbering follows the file, not the records.
    "line numbers are physical": (
        'dealer_id,sku,note\nD1,S1,"two\nlines"\n\nD9,S1,x\n',
        5,
        "dealer_id",
        "unknown dealer",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_overrides_name_file_line_column_and_write_nothing(tmp_path: Path, case: str) -> None:
    text, line, column, words = BAD_CASES[case]
    run_dir = make_run(tmp_path)
    warehouse = tmp_path / "wh.duckdb"
    before = snapshot(run_dir)
    overrides = write_overrides(tmp_path / "bad-overrides.csv", text)
    with pytest.raises(ApprovalError) as caught:
        approve_run(tmp_path, AS_OF, overrides, approved_by="ana", warehouse=warehouse)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{overrides}: line {line}, column {column}:" in message
    assert words in message
    assert snapshot(run_dir) == before
    assert not warehouse.exists()


def test_failed_reapproval_keeps_the_earlier_orders(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    approve_run(tmp_path, AS_OF, None, approved_by="ana")
    before = snapshot(run_dir)
    overrides = write_overrides(tmp_path / "o.csv", "dealer_id,sku,qty\nD1,S1,-1\nD1,S2,x\n")
    with pytest.raises(ApprovalError) as caught:
        approve_run(tmp_path, AS_OF, overrides, approved_by="ben")
    assert len(caught.value.errors) == 2 and "(and 1 more problem(s))" in str(caught.value)
    assert snapshot(run_dir) == before


def test_missing_run_is_an_approval_error(tmp_path: Path) -> None:
    with pytest.raises(ApprovalError, match="no published run for as-of 2025-06-30"):
        approve_run(tmp_path, AS_OF, None, approved_by="ana")


def test_warehouse_rows_replace_the_same_as_of(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    make_run(tmp_path, warehouse=warehouse)
    make_run(tmp_path, date(2025, 6, 23), warehouse=warehouse)
    con = connect(warehouse)
    con.close()
    approve_run(tmp_path, date(2025, 6, 23), None, approved_by="ana")  # from run_summary.json
    approve_run(tmp_path, AS_OF, None, approved_by="ana")
    overrides = write_overrides(tmp_path / "o.csv", GOOD)
    result = approve_run(tmp_path, AS_OF, overrides, approved_by="ben", warehouse=warehouse)
    assert result.warehouse_rows == 4

    con = connect(warehouse, read_only=True)
    try:
        rows = con.execute(
            "select as_of, dealer_id, sku, suggested_qty, approved_qty, is_held, note, "
            "approved_by, run_id, approval_id from raw.approved_lines "
            "order by as_of, dealer_id, sku"
        ).fetchall()
    finally:
        con.close()
    earlier = [r for r in rows if r[0] == date(2025, 6, 23)]
    current = [r for r in rows if r[0] == AS_OF]
    assert len(earlier) == 3  # the other as-of is untouched
    assert [r[1:8] for r in current] == [
        ("D1", "S1", 12.0, 18.0, False, "promo next week", "ben"),
        ("D1", "S2", 3.0, 0.0, True, "dealer closed for stock take", "ben"),
        ("D2", "S1", 6.0, 6.0, False, None, "ben"),
        ("D2", "S2", 0.0, 4.0, False, "new customer", "ben"),
    ]
    assert {r[8] for r in current} == {"run-2025-06-30"}
    assert {r[9] for r in current} == {result.approval_id}
