"""Approval of a run (overrides, orders, audit, warehouse) and the dealer exports."""

from __future__ import annotations

import csv
import json
import os
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from planner.approve import OVERRIDES_MAX_BYTES, ApprovalError, approve_run
from planner.exports import write_dealer_exports
from planner.run_folder import order_file_name, read_run_table, restore, write_csv
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


DEALER_NAMES = {"D1": "North Motors", "D2": "South Bikes"}
UNIT_COSTS = {"S1": 10.0, "S2": 2.5, "S3": 1.0}


def make_run(
    out_dir: Path,
    as_of: date = AS_OF,
    warehouse: Path | None = None,
    lines: list[tuple] = LINES,
) -> Path:
    run_dir = out_dir / "runs" / as_of.isoformat()
    run_dir.mkdir(parents=True)
    rows = []
    for dealer, sku, on_hand, in_transit, position, daily, pack, suggested in lines:
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
            "dealer_id": [line[0] for line in lines],
            "sku": [line[1] for line in lines],
            "dealer_name": [DEALER_NAMES.get(line[0], f"Dealer {line[0]}") for line in lines],
            "region": "n",
            "category": "brakes",
            "description": "pad",
            "unit_cost": [UNIT_COSTS.get(line[1], 1.0) for line in lines],
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
    # Numerals float() accepts but a planner did not mean (issue 14, item 6).
    "qty with an exponent": ("dealer_id,sku,qty\nD1,S1,1e300\n", 2, "qty", "not a number"),
    "qty with a digit separator": ("dealer_id,sku,qty\nD1,S1,1_2\n", 2, "qty", "not a number"),
    "qty in Arabic-Indic digits": (
        "dealer_id,sku,qty\nD1,S1,\u0661\u0662\n",
        2,
        "qty",
        "not a number",
    ),
    "qty with a plus sign": ("dealer_id,sku,qty\nD1,S1,+12\n", 2, "qty", "not a number"),
    "qty above the maximum": (
        "dealer_id,sku,qty\nD1,S1,1000002\n",  # whole packs of 6, above 1,000,000
        2,
        "qty",
        "above the maximum of 1,000,000",
    ),
    "qty spanning two lines": (
        'dealer_id,sku,qty\nD1,S1,"1\n2"\n',
        3,
        "qty",
        "not a number",
    ),
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


def test_a_quantity_up_to_the_maximum_is_approved(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    overrides = write_overrides(tmp_path / "o.csv", "dealer_id,sku,qty\nD1,S1,999996\n")
    approve_run(tmp_path, AS_OF, overrides, approved_by="ana")
    assert read_order(run_dir, "D1").set_index("sku").loc["S1", "qty"] == 999996


def test_xlsx_number_1e300_is_refused(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    before = snapshot(run_dir)
    book = Workbook()
    for row in [["dealer_id", "sku", "qty"], ["D1", "S1", 1e300]]:
        book.active.append(row)
    book.save(tmp_path / "overrides.xlsx")
    with pytest.raises(ApprovalError) as caught:
        approve_run(tmp_path, AS_OF, tmp_path / "overrides.xlsx", approved_by="ana")
    message = str(caught.value)
    assert f"{tmp_path / 'overrides.xlsx'}: line 2, column qty: qty 1e+300 is above" in message
    assert "\n" not in message and len(message) < 300
    assert snapshot(run_dir) == before


# --------------------------------------------------------------------------------------------
# Issue 14, item 8: the overrides file must be a small regular file
# --------------------------------------------------------------------------------------------

PASSWD_LINE = "root:x:0:0:root:/root:/bin/bash"


def _fifo(folder: Path) -> Path:
    path = folder / "overrides.csv"
    os.mkfifo(path)
    return path


def _link_to(target: str):
    def make(folder: Path) -> Path:
        path = folder / "overrides.csv"
        path.symlink_to(target)
        return path

    return make


def _link_to_a_secret_outside(folder: Path) -> Path:
    outside = folder.parent / "elsewhere"
    outside.mkdir()
    (outside / "secret.csv").write_text(PASSWD_LINE + "\n")
    path = folder / "overrides.csv"
    path.symlink_to(outside / "secret.csv")
    return path


def _too_large(folder: Path) -> Path:
    path = folder / "overrides.csv"
    with path.open("wb") as handle:  # sparse: no disk used
        handle.truncate(OVERRIDES_MAX_BYTES + 1)
    return path


def _folder(folder: Path) -> Path:
    path = folder / "overrides.csv"
    path.mkdir()
    return path


UNSAFE_FILES = {
    "FIFO": (_fifo, "not a regular file (a FIFO)"),
    "symlink to /dev/zero": (_link_to("/dev/zero"), "symbolic link to a file outside its folder"),
    "symlink to /etc/passwd": (
        _link_to("/etc/passwd"),
        "symbolic link to a file outside its folder",
    ),
    "symlink to a file outside the folder": (
        _link_to_a_secret_outside,
        "symbolic link to a file outside its folder",
    ),
    "over the size limit": (_too_large, "file too large"),
    "a folder": (_folder, "not a regular file (a folder)"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", list(UNSAFE_FILES))
def test_overrides_must_be_a_small_regular_file(tmp_path: Path, case: str) -> None:
    make, reason = UNSAFE_FILES[case]
    if "/etc/passwd" in case and not Path("/etc/passwd").exists():
        pytest.skip("no /etc/passwd here")
    run_dir = make_run(tmp_path / "out")
    before = snapshot(run_dir)
    folder = tmp_path / "planner"
    folder.mkdir()
    overrides = make(folder)
    with pytest.raises(ApprovalError) as caught:  # the timeout marker turns a hang into a failure
        approve_run(tmp_path / "out", AS_OF, overrides, approved_by="ana")
    message = str(caught.value)
    assert message.startswith(f"{overrides}: line -, column -: ")
    assert reason in message
    assert "\n" not in message and "root:x" not in message
    assert snapshot(run_dir) == before
    assert not (run_dir / "orders").exists()


def test_a_symlink_within_the_folder_is_read(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    (tmp_path / "archive").mkdir()
    real = write_overrides(tmp_path / "archive" / "monday.csv", "dealer_id,sku,qty\nD1,S1,18\n")
    link = tmp_path / "overrides.csv"
    link.symlink_to(real)
    approve_run(tmp_path, AS_OF, link, approved_by="ana")
    assert read_order(run_dir, "D1").set_index("sku").loc["S1", "qty"] == 18


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_file_that_is_not_an_overrides_file_is_not_quoted(tmp_path: Path, suffix: str) -> None:
    run_dir = make_run(tmp_path)
    before = snapshot(run_dir)
    path = write_overrides(tmp_path / f"overrides{suffix}", f"{PASSWD_LINE}\nbin:x:1:1::/:\n")
    with pytest.raises(ApprovalError) as caught:
        approve_run(tmp_path, AS_OF, path, approved_by="ana")
    message = str(caught.value)
    assert message.startswith(f"{path}: line 1, column -: ")
    assert "root:x" not in message and "bin:" not in message and "\n" not in message
    assert snapshot(run_dir) == before


def test_a_binary_csv_is_refused_without_quoting_it(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    before = snapshot(run_dir)
    path = tmp_path / "overrides.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00secret\xff\xfe")
    with pytest.raises(ApprovalError) as caught:
        approve_run(tmp_path, AS_OF, path, approved_by="ana")
    assert str(caught.value) == (f"{path}: line -, column -: not UTF-8 text (save it as CSV UTF-8)")
    assert snapshot(run_dir) == before


# --------------------------------------------------------------------------------------------
# Issue 14, item 5: dealer ids that share a slug get distinct files
# --------------------------------------------------------------------------------------------

SLUG_TWINS = [
    # dealer, sku, on_hand, in_transit, position, daily demand, pack, suggested
    ("a/b", "S1", 1, 0, 1, 1.0, 1, 5),
    ("a/b", "S2", 1, 0, 1, 1.0, 1, 7),
    ("a_b", "S1", 1, 0, 1, 1.0, 1, 11),
    ("\u6771\u4eac", "S1", 1, 0, 1, 1.0, 1, 13),  # 東京
    ("\u5927\u962a", "S1", 1, 0, 1, 1.0, 1, 17),  # 大阪: same length, same slug "__"
]


def test_ids_sharing_a_slug_get_distinct_file_names() -> None:
    names = {dealer: order_file_name(dealer) for dealer, *_ in SLUG_TWINS}
    assert len(set(names.values())) == 4
    assert names["a_b"] == "a_b.csv"  # the slug is the id: no hash
    assert re.fullmatch(r"a_b~[0-9a-f]{10}\.csv", names["a/b"])
    assert all(
        re.fullmatch(r"__~[0-9a-f]{10}\.csv", names[d]) for d in ("\u6771\u4eac", "\u5927\u962a")
    )
    # An id spelled like another id's hashed file name is not hashed the same way.
    hashed = names["a/b"][: -len(".csv")]
    assert order_file_name(hashed) != names["a/b"]
    assert order_file_name("") != order_file_name("_") == "_.csv"
    assert order_file_name("..") != order_file_name("_")
    assert len(order_file_name("x" * 10_000)) < 100


@pytest.mark.parametrize("held", ["a_b", "a/b", "\u6771\u4eac"])
def test_each_dealer_file_holds_only_its_own_rows(tmp_path: Path, held: str) -> None:
    run_dir = make_run(tmp_path, lines=SLUG_TWINS)
    overrides = pd.DataFrame(
        [{"dealer_id": d, "sku": s, "hold": True} for d, s, *_ in SLUG_TWINS if d == held]
    )
    result = approve_run(tmp_path, AS_OF, overrides, approved_by="ana")
    shipping = sorted({d for d, *_ in SLUG_TWINS} - {held})
    files = sorted(p.name for p in (run_dir / "orders").iterdir())
    assert files == sorted(order_file_name(d) for d in shipping)
    assert sorted(p.name for p in result.order_files) == files
    suggested = {(d, s): q for d, s, *_, q in SLUG_TWINS}
    for dealer in shipping:
        order = pd.read_csv(
            run_dir / "orders" / order_file_name(dealer), dtype=str, keep_default_na=False
        )
        assert set(order["dealer_id"]) == {dealer}
        assert {(dealer, s): float(q) for s, q in zip(order.sku, order.qty, strict=True)} == {
            k: v for k, v in suggested.items() if k[0] == dealer
        }
    # The dealer exports use the same names: one CSV and one XLSX per dealer, own rows only.
    exports = write_dealer_exports(run_dir)
    dealers = {d for d, *_ in SLUG_TWINS}
    assert len({p.name for p in exports}) == 2 * len(dealers) == 8
    for dealer in dealers:
        stem = order_file_name(dealer)[: -len(".csv")]
        export = pd.read_csv(
            run_dir / "exports" / f"{stem}.csv", dtype=str, keep_default_na=False,
            encoding="utf-8-sig",
        )  # fmt: skip
        assert set(export["Dealer ID"]) == {dealer}


def test_ids_sharing_a_slug_are_approved_from_a_csv_file(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, lines=SLUG_TWINS)
    overrides = write_overrides(
        tmp_path / "o.csv", "dealer_id,sku,hold\na_b,S1,yes\n\u5927\u962a,S1,yes\n"
    )
    approve_run(tmp_path, AS_OF, overrides, approved_by="ana")
    files = {p.name for p in (run_dir / "orders").iterdir()}
    assert "a_b.csv" not in files  # a_b is held: a/b's order does not take its name
    assert files == {order_file_name("a/b"), order_file_name("\u6771\u4eac")}
    order = pd.read_csv(run_dir / "orders" / order_file_name("a/b"), dtype=str)
    assert set(order["dealer_id"]) == {"a/b"}


# --------------------------------------------------------------------------------------------
# Issue 14, item 2: formula injection in orders/, decisions.csv and audit.csv
# --------------------------------------------------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/x","click me")'
INJECTION_LINES = [
    ("-D3", "@S1", 1, 0, 1, 1.0, 1, 5),
    ("D4", "+S2", 1, 0, 1, 1.0, 1, 3),
]


def _cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def test_text_cells_of_orders_decisions_and_audit_are_neutralised(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, lines=INJECTION_LINES)
    decisions = pd.DataFrame(
        [
            {"dealer_id": "-D3", "sku": "@S1", "qty": 6, "note": FORMULA,
             "dealer_note": "+cmd|' /C calc'!A0"},
            {"dealer_id": "D4", "sku": "+S2", "note": "\tindented", "dealer_note": "\rx"},
        ]
    )  # fmt: skip
    approve_run(tmp_path, AS_OF, decisions, approved_by="@ana")
    files = [*(run_dir / "orders").iterdir(), run_dir / "decisions.csv", run_dir / "audit.csv"]
    assert len(files) == 4
    for path in files:
        cells = _cells(path)
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], path
    order = _cells(run_dir / "orders" / order_file_name("-D3"))
    assert {"'-D3", "'@S1", "'" + FORMULA} <= set(order)
    audit = _cells(run_dir / "audit.csv")
    assert {"'@ana", "'-D3", "'+S2", "'" + FORMULA, "'\tindented"} <= set(audit)

    # Read back through the run-folder contract, the decisions are as the planner made them,
    # so the report and the dealer exports still join them to their lines.
    back = read_run_table(run_dir, "decisions").set_index("sku")
    assert back.loc["@S1", "dealer_id"] == "-D3" and back.loc["@S1", "note"] == FORMULA
    assert back.loc["+S2", "dealer_note"] == "\rx" and set(back["approved_by"]) == {"@ana"}
    write_dealer_exports(run_dir)
    export = pd.read_csv(
        run_dir / "exports" / f"{order_file_name('-D3')[:-4]}.csv", dtype=str,
        keep_default_na=False, encoding="utf-8-sig",
    )  # fmt: skip
    assert export[["Dealer ID", "SKU", "Quantity", "Note"]].values.tolist() == [
        ["'-D3", "'@S1", "6", "'+cmd|' /C calc'!A0"]
    ]


def test_write_csv_and_restore_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"text": ["=1+1", "plain", "'quoted", "-", "", None], "n": [-1.5, 2, 3, 4, 5, 6]}
    )
    write_csv(frame, tmp_path / "t.csv")
    written = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    assert written["text"].tolist() == ["'=1+1", "plain", "'quoted", "'-", "", ""]
    assert written["n"].tolist() == ["-1.5", "2.0", "3.0", "4.0", "5.0", "6.0"]
    assert [restore(v) for v in written["text"]] == ["=1+1", "plain", "'quoted", "-", "", ""]
    write_csv(frame.head(1), tmp_path / "t.csv", append=True)
    assert len(pd.read_csv(tmp_path / "t.csv")) == 7
