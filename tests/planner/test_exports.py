"""Dealer exports: what a dealer receives after an approval (CSV for systems, XLSX for people).

The run folder comes from `make_run_folder` (3 dealers x 10 SKUs, numbers that hang together);
the approval goes through `approve_run` with a decisions frame, as the workbench sends it. Every
expectation is computed here from suggestions.csv and items.csv, not from the export code.
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from test_report import make_run_folder

from planner.approve import approve_run
from planner.exports import (
    XLSX_OPTIONS,
    dealer_export_frame,
    neutralise,
    po_reference,
    write_dealer_exports,
)
from planner.run_folder import FORMULA_START

AS_OF = "2025-06-30"
SECRET = "INTERNAL-ONLY credit block 4711"
SECRET_2 = "INTERNAL-ONLY margin talk"
HELD_NOTE = "On hold until your stock count is in"
INJECTED = '=HYPERLINK("http://evil.example/x","click me")'
CSV_HEADER = [
    "PO reference", "As of", "Approval id", "Dealer ID", "Dealer", "SKU", "Description",
    "Status", "Quantity", "Suggested quantity", "Pack size", "Unit cost", "Line value",
    "On hand", "In transit", "On order", "Average daily demand", "Days of cover before",
    "Days of cover after", "Note",
]  # fmt: skip


@pytest.fixture
def approved(tmp_path: Path) -> dict:
    out = tmp_path / "out"
    run_dir = make_run_folder(out, AS_OF)
    lines = pd.read_csv(run_dir / "suggestions.csv", dtype={"dealer_id": str, "sku": str})
    items = pd.read_csv(run_dir / "items.csv", dtype={"dealer_id": str, "sku": str})
    # A description that a spreadsheet would run as a formula.
    items.loc[items.sku == "SKU-00002", "description"] = "+cmd|' /C calc'!A0"
    items.to_csv(run_dir / "items.csv", index=False)
    ordered = lines[lines.suggested_qty > 0]
    d1 = ordered[ordered.dealer_id == "D001"]
    d3 = ordered[ordered.dealer_id == "D003"]
    assert len(d1) >= 2 and len(d3) >= 1
    held, changed = d1.iloc[0], d1.iloc[1]
    decisions = pd.DataFrame(
        [
            {"dealer_id": "D001", "sku": held.sku, "hold": True, "note": SECRET,
             "dealer_note": HELD_NOTE},
            {"dealer_id": "D001", "sku": changed.sku, "hold": False,
             "qty": changed.suggested_qty + changed.pack_size, "note": SECRET_2,
             "dealer_note": INJECTED},
        ]
        # Every ordered line of D003 is held: the dealer still gets a file that says so.
        + [
            {"dealer_id": "D003", "sku": sku, "hold": True, "note": SECRET, "dealer_note": ""}
            for sku in d3.sku
        ]
    )  # fmt: skip
    result = approve_run(out, AS_OF, decisions, approved_by="ana")
    paths = write_dealer_exports(run_dir)
    return {
        "run_dir": run_dir,
        "paths": paths,
        "lines": lines.merge(items, on=["dealer_id", "sku"]),
        "held": held.sku,
        "changed": changed,
        "d3_skus": set(d3.sku),
        "approval_id": result.approval_id,
    }


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_not_approved_yet(tmp_path: Path) -> None:
    run_dir = make_run_folder(tmp_path / "out", AS_OF)
    with pytest.raises(FileNotFoundError, match="not approved yet"):
        write_dealer_exports(run_dir)


def test_one_csv_and_one_xlsx_per_dealer_with_a_decided_line(approved: dict) -> None:
    names = [p.name for p in approved["paths"]]
    assert names == ["D001.csv", "D001.xlsx", "D002.csv", "D002.xlsx", "D003.csv", "D003.xlsx"]
    assert all(p.exists() for p in approved["paths"])


def test_csv_is_clean_for_systems(approved: dict) -> None:
    run_dir, lines = approved["run_dir"], approved["lines"]
    d1 = read_csv(run_dir / "exports" / "D001.csv")
    assert list(d1.columns) == CSV_HEADER
    short = approved["approval_id"].rsplit("-", 1)[1][:8]
    assert set(d1["PO reference"]) == {f"PO-{AS_OF}-D001-{short}"}
    assert set(d1["As of"]) == {AS_OF} and set(d1["Approval id"]) == {approved["approval_id"]}
    assert set(d1["Dealer"]) == {"Dealer 1"}
    # Whole numbers without ".0", money with exactly two decimals, days with one.
    for column in ("Quantity", "Suggested quantity", "Pack size", "On hand", "In transit"):
        assert all(re.fullmatch(r"-?\d+", v) for v in d1[column]), column
    for column in ("Unit cost", "Line value"):
        assert all(re.fullmatch(r"\d+\.\d\d", v) for v in d1[column]), column
    for column in ("Days of cover before", "Days of cover after"):
        assert all(v == "" or re.fullmatch(r"-?\d+\.\d", v) for v in d1[column]), column

    # Quantities and values against suggestions.csv x items.csv.
    changed = approved["changed"]
    mine = lines[lines.dealer_id == "D001"].set_index("sku")
    row = d1.set_index("SKU").loc[changed.sku]
    qty = changed.suggested_qty + changed.pack_size
    assert int(row["Quantity"]) == qty and row["Status"] == "to ship"
    assert float(row["Line value"]) == pytest.approx(
        round(qty * mine.loc[changed.sku, "unit_cost"], 2)
    )
    demand = mine.loc[changed.sku, "avg_daily_demand"]
    position = mine.loc[changed.sku, "inventory_position"]
    if demand > 0:
        assert float(row["Days of cover after"]) == pytest.approx(
            round((position + qty) / demand, 1), abs=0.051
        )


def test_held_lines_are_listed_with_the_dealer_note(approved: dict) -> None:
    run_dir = approved["run_dir"]
    d1 = read_csv(run_dir / "exports" / "D001.csv").set_index("SKU")
    held = d1.loc[approved["held"]]
    assert (held["Status"], held["Quantity"], held["Line value"], held["Note"]) == (
        "held", "0", "0.00", HELD_NOTE
    )  # fmt: skip
    d3 = read_csv(run_dir / "exports" / "D003.csv")
    assert set(d3["SKU"]) == approved["d3_skus"] and set(d3["Status"]) == {"held"}
    assert set(d3["Quantity"]) == {"0"}


def test_internal_notes_never_leave_the_company(approved: dict) -> None:
    frame = dealer_export_frame(approved["run_dir"])
    assert "note" not in frame.columns
    for path in approved["paths"]:
        if path.suffix == ".csv":
            texts = [path.read_text(encoding="utf-8-sig")]
        else:
            with zipfile.ZipFile(path) as book:
                texts = [book.read(name).decode("utf-8") for name in book.namelist()]
        for text in texts:
            assert "INTERNAL-ONLY" not in text, path.name


def test_formula_injection_is_neutralised(approved: dict) -> None:
    run_dir = approved["run_dir"]
    changed = approved["changed"].sku
    csv = read_csv(run_dir / "exports" / "D001.csv").set_index("SKU")
    assert csv.loc[changed, "Note"] == "'" + INJECTED
    assert csv.loc["SKU-00002", "Description"] == "'+cmd|' /C calc'!A0"

    sheet = load_workbook(run_dir / "exports" / "D001.xlsx").active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    injected = [c for c in cells if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert len(injected) == 1
    # A text cell (not a formula) marked "this is text", whatever a user does with it.
    assert injected[0].data_type == "s" and injected[0].quotePrefix
    assert injected[0].value == INJECTED
    plus = [c for c in cells if c.value == "+cmd|' /C calc'!A0"]
    assert len(plus) == 1 and plus[0].data_type == "s" and plus[0].quotePrefix
    # The only formulas are the two totals.
    formulas = [c for c in cells if c.data_type == "f"]
    assert [c.value for c in formulas] == [
        f"=SUBTOTAL(109,D10:D{sheet.max_row - 1})",
        f"=SUBTOTAL(109,H10:H{sheet.max_row - 1})",
    ]


def test_xlsx_header_block_formats_filter_and_total(approved: dict) -> None:
    run_dir, lines = approved["run_dir"], approved["lines"]
    path = run_dir / "exports" / "D002.xlsx"
    sheet = load_workbook(path).active
    values = load_workbook(path, data_only=True).active
    block = {sheet.cell(r, 1).value: sheet.cell(r, 2).value for r in range(2, 8)}
    short = approved["approval_id"].rsplit("-", 1)[1][:8]
    assert block["Dealer"] == "D002 Dealer 2"
    assert block["As of"] == AS_OF
    assert block["PO reference"] == f"PO-{AS_OF}-D002-{short}"
    assert block["Approval id"] == approved["approval_id"]
    assert re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d UTC", block["Approved at"])

    header = [c.value for c in sheet[9]]
    assert header == CSV_HEADER[5:]
    assert all(c.font.bold for c in sheet[9])
    assert sheet.freeze_panes == "A10"

    mine = lines[(lines.dealer_id == "D002") & (lines.suggested_qty > 0)].sort_values("sku")
    first, last = 10, 10 + len(mine) - 1
    assert sheet.auto_filter.ref == f"A9:O{last}"
    assert [sheet.cell(r, 1).value for r in range(first, last + 1)] == mine.sku.tolist()
    col = {name: k + 1 for k, name in enumerate(header)}
    for r in range(first, last + 1):
        assert sheet.cell(r, col["Quantity"]).number_format == "#,##0"
        assert sheet.cell(r, col["Pack size"]).number_format == "#,##0"
        assert sheet.cell(r, col["Unit cost"]).number_format == "#,##0.00"
        assert sheet.cell(r, col["Line value"]).number_format == "#,##0.00"
        assert sheet.cell(r, col["Days of cover before"]).number_format == "0.0"
        assert isinstance(sheet.cell(r, col["Quantity"]).value, int | float)
    assert [sheet.cell(r, col["Quantity"]).value for r in range(first, last + 1)] == (
        mine.suggested_qty.tolist()
    )

    total = last + 1
    assert sheet.cell(total, 1).value == "Total to ship"
    units = mine.suggested_qty.sum()
    value = (mine.suggested_qty * mine.unit_cost).sum()
    assert values.cell(total, col["Quantity"]).value == pytest.approx(units)
    assert values.cell(total, col["Line value"]).value == pytest.approx(value, abs=0.01)
    line_values = [values.cell(r, col["Line value"]).value for r in range(first, last + 1)]
    assert sum(line_values) == pytest.approx(value, abs=0.01)


def test_reapproval_replaces_the_exports(approved: dict) -> None:
    run_dir = approved["run_dir"]
    approve_run(run_dir.parent.parent, AS_OF, None, approved_by="ben")
    write_dealer_exports(run_dir)
    d3 = read_csv(run_dir / "exports" / "D003.csv")
    assert set(d3["Status"]) == {"to ship"} and set(d3["Note"]) == {""}
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise(start: str) -> None:
    assert neutralise(start + "1+2") == "'" + start + "1+2"
    assert neutralise("a" + start) == "a" + start
    assert neutralise(None) == "" and neutralise(float("nan")) == ""


def test_po_reference_is_plain() -> None:
    assert po_reference("2025-06-30", "D/7 =x", "2025-06-30-0123456789ab") == (
        "PO-2025-06-30-D_7__x-01234567"
    )


def test_days_of_cover_worked_by_hand(tmp_path: Path) -> None:
    """The hand-made run of test_approve: D2/S1 and D2/S2 with numbers checked on paper."""
    from test_approve import AS_OF as HAND_AS_OF
    from test_approve import make_run

    run_dir = make_run(tmp_path)
    override = pd.DataFrame({"dealer_id": ["D2"], "sku": ["S2"], "qty": [4]})
    approve_run(tmp_path, HAND_AS_OF, override, approved_by="ana")
    write_dealer_exports(run_dir)
    d2 = read_csv(run_dir / "exports" / "D2.csv")
    # D2/S1: position 2, 2.0 a day -> 1 day of cover; +6 -> 4 days; 6 x 10.00 = 60.00.
    # D2/S2: position 3 (1 on hand + 2 in transit), 0.25 a day -> 12 days; +4 -> 28 days.
    columns = ["SKU", "Quantity", "On hand", "Days of cover before", "Days of cover after",
               "Line value", "Dealer"]  # fmt: skip
    assert d2[columns].values.tolist() == [
        ["S1", "6", "2", "1.0", "4.0", "60.00", "South Bikes"],
        ["S2", "4", "1", "12.0", "28.0", "10.00", "South Bikes"],
    ]


URLS_AND_FORMULAS = [
    "http://evil.example/login",
    "https://evil.example/x?y=1",
    "mailto:someone@evil.example",
    "ftp://evil.example/f",
    "external:c:\\temp\\x.xlsx",
    "=1+1",
    "@SUM(A1:A9)",
    "-2+3",
    "+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_no_cell_of_any_export_is_a_formula_or_a_hyperlink(tmp_path: Path) -> None:
    """Issue 14, item 2: whatever the text, no export cell is a formula or a link.

    The only formulas are the two total cells the exporter writes itself (SUBTOTAL over the
    quantity and line-value columns, so they follow the filter); no text becomes one.
    """
    out = tmp_path / "out"
    run_dir = make_run_folder(out, AS_OF)
    lines = pd.read_csv(run_dir / "suggestions.csv", dtype={"dealer_id": str, "sku": str})
    items = pd.read_csv(run_dir / "items.csv", dtype={"dealer_id": str, "sku": str})
    texts = iter(URLS_AND_FORMULAS * 10)
    items["description"] = [next(texts) for _ in range(len(items))]
    items["dealer_name"] = "http://evil.example/dealer"
    items.to_csv(run_dir / "items.csv", index=False)
    decided = lines[lines.suggested_qty > 0].head(len(URLS_AND_FORMULAS))
    decisions = pd.DataFrame(
        {
            "dealer_id": decided.dealer_id.to_numpy(),
            "sku": decided.sku.to_numpy(),
            "dealer_note": URLS_AND_FORMULAS[: len(decided)],
            "note": "internal",
        }
    )
    approve_run(out, AS_OF, decisions, approved_by="ana")
    paths = write_dealer_exports(run_dir)
    books = [p for p in paths if p.suffix == ".xlsx"]
    assert len(books) == 3

    seen = set()
    for path in books:
        book = load_workbook(path)
        for sheet in book.worksheets:
            assert not sheet._hyperlinks, path.name
            cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
            assert all(c.hyperlink is None for c in cells), path.name
            formulas = [c for c in cells if c.data_type == "f"]
            total = sheet.max_row
            assert [(c.row, c.value) for c in formulas] == [
                (total, f"=SUBTOTAL(109,D10:D{total - 1})"),
                (total, f"=SUBTOTAL(109,H10:H{total - 1})"),
            ], path.name
            for cell in (c for c in cells if c.data_type != "f"):
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                    assert cell.data_type == "s" and cell.quotePrefix, (path.name, cell.value)
            # openpyxl leaves xlsxwriter's escape of a carriage return (_x000D_) as it is.
            seen |= {c.value.replace("_x000D_", "\r") for c in cells if isinstance(c.value, str)}
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                xml = archive.read(name).decode("utf-8")
                # No <hyperlink> element and no relationship of type .../hyperlink.
                assert "<hyperlink" not in xml and "/hyperlink" not in xml, (path.name, name)
                assert xml.count("<f>") == (2 if name.startswith("xl/worksheets/") else 0)
    # Every dangerous text did reach a workbook, as text.
    assert set(URLS_AND_FORMULAS) <= seen

    for path in (p for p in paths if p.suffix == ".csv"):
        with path.open(newline="", encoding="utf-8-sig") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        assert not [c for c in cells if c.startswith(FORMULA_START)], path.name
        assert "'http://evil.example/dealer" not in cells  # a URL is not a formula start


def test_xlsx_never_turns_strings_into_formulas_or_links() -> None:
    assert XLSX_OPTIONS == {"strings_to_formulas": False, "strings_to_urls": False}
