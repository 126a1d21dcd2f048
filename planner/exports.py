"""Dealer-facing order files: every decided line, with the stock cover it buys.

After an approval, each dealer with a decided line gets ``exports/<dealer file>.csv`` and
``.xlsx`` under the run folder. They are built from ``decisions.csv`` (the approval's every
decided line, held ones included) joined with the run's lines, so:

* a held line is listed with status ``held`` and the planner's note *for the dealer*
  (``dealer_note``), instead of silently disappearing;
* the internal note (``note`` in decisions.csv, orders/ and the audit) never leaves the
  company: no column of these files is built from it;
* quantities are whole numbers, money has two decimals, days of cover one;
* every text cell that a spreadsheet could read as a formula (it starts with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return) is neutralised: prefixed with ``'`` in the CSV,
  written as a quote-prefixed text cell in the XLSX.

The XLSX is for people: a header block (dealer, as-of, PO reference, approval id, approved
at), a bold frozen header row with an autofilter, number formats, and a total row (units and
value to ship, as ``SUBTOTAL`` formulas with their values cached, so they follow the filter).
The CSV is for systems: one row per line and no total row, with the as-of date, approval id and
PO reference repeated as columns on every row instead of the header block.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.run_folder import (
    APPROVAL_FILE,
    CSV_LINE_END,
    EXPORTS_DIR,
    FORMULA_START,
    SAFE_NAME,
    atomic_dir,
    lines_with_items,
    neutralise,
    order_file_name,
    parse_bool,
    read_run_table,
    run_as_of,
    table_path,
)

# Status of a line in the dealer's file.
TO_SHIP, HELD, NOT_SHIPPED = "to ship", "held", "not shipped"

# Columns of the export frame and their headers, in file order. The first four are the
# header block of the XLSX (and columns of the CSV); the rest are the table of both.
HEADER_FIELDS = {
    "po_reference": "PO reference",
    "as_of": "As of",
    "approval_id": "Approval id",
    "dealer_id": "Dealer ID",
    "dealer_name": "Dealer",
}
LINE_FIELDS = {
    "sku": "SKU",
    "description": "Description",
    "status": "Status",
    "qty": "Quantity",
    "suggested_qty": "Suggested quantity",
    "pack_size": "Pack size",
    "unit_cost": "Unit cost",
    "line_value": "Line value",
    "on_hand": "On hand",
    "in_transit": "In transit",
    "on_order": "On order",
    "avg_daily_demand": "Average daily demand",
    "days_cover_before": "Days of cover before",
    "days_cover_after": "Days of cover after",
    "dealer_note": "Note",
}
EXPORT_FIELDS = {**HEADER_FIELDS, **LINE_FIELDS}
DEALER_EXPORT_COLUMNS = list(EXPORT_FIELDS)

# Number kinds: how each numeric column is rounded (CSV) and formatted (XLSX).
INTEGER_COLUMNS = ["qty", "suggested_qty", "pack_size", "on_hand", "in_transit", "on_order"]
MONEY_COLUMNS = ["unit_cost", "line_value"]
DAYS_COLUMNS = ["days_cover_before", "days_cover_after"]
RATE_COLUMNS = ["avg_daily_demand"]
TEXT_COLUMNS = [
    "po_reference", "as_of", "approval_id", "dealer_id", "dealer_name", "sku", "description",
    "status", "dealer_note",
]  # fmt: skip

XLSX_FORMATS = {
    "integer": "#,##0",
    "money": "#,##0.00",
    "days": "0.0",
    "rate": "0.00",
}
SHEET = "Order"
# The workbook never turns a string into a formula or a hyperlink, whatever it starts with.
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False}


def po_reference(as_of: str, dealer_id: str, approval_id: str) -> str:
    """``PO-<as_of>-<dealer>-<short approval id>``, e.g. ``PO-2025-06-30-D001-3f9a1c0b``.

    The dealer id is reduced to file-name-safe characters and the approval id to the first
    eight characters of its random part, so the reference is short, unique per dealer and
    approval, and safe in any system (it never starts with a formula character).
    """
    dealer = SAFE_NAME.sub("_", dealer_id) or "_"
    token = approval_id.rsplit("-", 1)[-1] if approval_id else ""
    short = re.sub(r"[^A-Za-z0-9]", "", token)[:8] or "unapproved"
    return f"PO-{as_of}-{dealer}-{short}"


def _approval(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / APPROVAL_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _readable_time(stamp: Any) -> str:
    """``2025-07-01T08:12:40+00:00`` -> ``2025-07-01 08:12 UTC`` (anything else unchanged)."""
    if not stamp:
        return ""
    try:
        moment = pd.Timestamp(str(stamp))
    except ValueError:
        return str(stamp)
    if pd.isna(moment):
        return str(stamp)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def dealer_export_frame(run_dir: Path) -> pd.DataFrame:
    """Every decided line of every dealer, joined with its stock and demand.

    Parameters
    ----------
    run_dir : Path
        An approved run folder (``decisions.csv`` written by `planner.approve.approve_run`).

    Returns
    -------
    pandas.DataFrame
        ``DEALER_EXPORT_COLUMNS`` (headers in `EXPORT_FIELDS`), sorted by dealer and SKU.
        ``status`` is ``to ship`` (approved quantity > 0), ``held`` (the planner held the
        line: quantity 0) or ``not shipped`` (the planner set a suggested line to 0).
        Lines with nothing suggested, nothing approved and no dealer note are left out.
        ``days_cover_before = inventory_position / avg_daily_demand`` (on hand + in transit +
        on order - backorders, in days of average demand); ``days_cover_after`` adds the
        approved ``qty``; both are NaN where the average daily demand is 0 (no finite cover).
        ``line_value = qty * unit_cost``. There is no internal-note column.

    Raises
    ------
    FileNotFoundError
        The run has not been approved yet (no ``decisions.csv``).
    """
    run_dir = Path(run_dir)
    path = table_path(run_dir, "decisions")
    if not path.exists():
        raise FileNotFoundError(f"{path}: not approved yet (run `vmi approve` first)")
    decisions = read_run_table(run_dir, "decisions")
    # The internal note is dropped on reading: nothing below can reach it.
    decisions = decisions.drop(columns=["note"])
    held = parse_bool(decisions["is_held"])
    approved = decisions["approved_qty"].fillna(0.0)
    suggested = decisions["suggested_qty"].fillna(0.0)
    keep = (approved > 0) | held | (suggested > 0) | (decisions["dealer_note"] != "")
    decisions = decisions.assign(
        status=np.select([held, approved > 0], [HELD, TO_SHIP], default=NOT_SHIPPED),
        qty=approved.where(~held, 0.0),
    )[keep]

    lines = lines_with_items(run_dir).drop(columns=["suggested_qty"])
    frame = decisions.merge(lines, on=["dealer_id", "sku"], how="left", validate="one_to_one")

    approval = _approval(run_dir)
    as_of_date = run_as_of(run_dir)
    as_of = as_of_date.isoformat() if as_of_date else str(approval.get("as_of", ""))
    fallback_id = str(approval.get("approval_id") or "")
    frame["approval_id"] = frame["approval_id"].replace("", fallback_id)
    frame["as_of"] = as_of
    frame["po_reference"] = [
        po_reference(as_of, d, a)
        for d, a in zip(frame["dealer_id"], frame["approval_id"], strict=True)
    ]

    demand = frame["avg_daily_demand"].astype(float)
    position = frame["inventory_position"].astype(float)
    qty = frame["qty"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["days_cover_before"] = np.where(demand > 0, position / demand, np.nan)
        frame["days_cover_after"] = np.where(demand > 0, (position + qty) / demand, np.nan)
    frame["unit_cost"] = frame["unit_cost"].astype(float).round(2)
    frame["line_value"] = (qty * frame["unit_cost"]).round(2)
    for column in DAYS_COLUMNS:
        frame[column] = frame[column].astype(float).round(1)
    frame["avg_daily_demand"] = demand.round(2)
    for column in INTEGER_COLUMNS:
        frame[column] = frame[column].astype(float).round().astype("Int64")
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str)
    return frame[DEALER_EXPORT_COLUMNS].sort_values(["dealer_id", "sku"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _csv_text(part: pd.DataFrame) -> pd.DataFrame:
    """The CSV's cells as text: whole numbers, 2-decimal money, 1-decimal days, safe text."""
    out = pd.DataFrame(index=part.index)
    for column in DEALER_EXPORT_COLUMNS:
        values = part[column]
        if column in TEXT_COLUMNS:
            out[column] = values.map(neutralise)
        elif column in INTEGER_COLUMNS:
            out[column] = values.map(lambda v: "" if pd.isna(v) else str(int(v)))
        else:
            digits = 2 if column in MONEY_COLUMNS or column in RATE_COLUMNS else 1
            out[column] = values.map(lambda v, d=digits: "" if pd.isna(v) else f"{v:.{d}f}")
    return out.rename(columns=EXPORT_FIELDS)


def write_csv(part: pd.DataFrame, path: Path) -> Path:
    """One dealer's lines as CSV (UTF-8 with BOM, so Excel reads accents right).

    Lines end in CRLF, so a note holding a carriage return is quoted, not split into rows.
    """
    _csv_text(part).to_csv(path, index=False, encoding="utf-8-sig", lineterminator=CSV_LINE_END)
    return path


# --------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def write_xlsx(part: pd.DataFrame, path: Path, *, approved_at: str = "") -> Path:
    """One dealer's lines as a workbook a person can read, filter, print and total.

    Rows: a title, the header block (dealer, as-of, PO reference, approval id, approved at,
    line counts), a blank row, the bold header row (frozen, with an autofilter), one row per
    line, and a total row (``SUBTOTAL(109, ...)`` of quantity and line value, values cached).
    """
    import xlsxwriter

    first = part.iloc[0]
    columns = list(LINE_FIELDS)
    book = xlsxwriter.Workbook(str(path), XLSX_OPTIONS)
    try:
        sheet = book.add_worksheet(SHEET)
        bold = book.add_format({"bold": True})
        title = book.add_format({"bold": True, "font_size": 14})
        header = book.add_format(
            {"bold": True, "bg_color": "#E4E7EC", "bottom": 1, "text_wrap": True, "valign": "top"}
        )
        text = book.add_format({})
        quoted = book.add_format({"quote_prefix": True})
        kinds = {c: "integer" for c in INTEGER_COLUMNS}
        kinds.update({c: "money" for c in MONEY_COLUMNS})
        kinds.update({c: "days" for c in DAYS_COLUMNS})
        kinds.update({c: "rate" for c in RATE_COLUMNS})
        number_formats = {k: book.add_format({"num_format": v}) for k, v in XLSX_FORMATS.items()}
        held_formats = {
            k: book.add_format({"num_format": v, "font_color": "#667085"})
            for k, v in XLSX_FORMATS.items()
        }
        held_text = book.add_format({"font_color": "#667085"})
        held_quoted = book.add_format({"font_color": "#667085", "quote_prefix": True})
        total_formats = {
            k: book.add_format({"num_format": v, "bold": True, "top": 1})
            for k, v in XLSX_FORMATS.items()
        }
        total_label = book.add_format({"bold": True, "top": 1})

        def put_text(row: int, col: int, value: Any, fmt_plain: Any, fmt_quoted: Any) -> None:
            value = "" if value is None or (isinstance(value, float) and np.isnan(value)) else value
            value = str(value)
            if not value:
                sheet.write_blank(row, col, None, fmt_plain)
            elif value.startswith(FORMULA_START):
                sheet.write_string(row, col, value, fmt_quoted)
            else:
                sheet.write_string(row, col, value, fmt_plain)

        to_ship = part[part["status"] == TO_SHIP]
        held = int((part["status"] == HELD).sum())
        other = len(part) - len(to_ship) - held
        counts = f"{len(to_ship)} to ship, {held} held" + (
            f", {other} not shipped" if other else ""
        )
        dealer = f"{first['dealer_id']} {first['dealer_name']}".strip()
        sheet.write_string(0, 0, "Replenishment order", title)
        block = [
            ("Dealer", dealer),
            ("As of", first["as_of"]),
            ("PO reference", first["po_reference"]),
            ("Approval id", first["approval_id"]),
            ("Approved at", approved_at),
            ("Lines", counts),
        ]
        for row, (label, value) in enumerate(block, start=1):
            sheet.write_string(row, 0, label, bold)
            put_text(row, 1, value, text, quoted)

        head_row = len(block) + 2
        for col, name in enumerate(columns):
            sheet.write_string(head_row, col, LINE_FIELDS[name], header)
        for offset, rec in enumerate(part[columns].to_dict("records"), start=1):
            row = head_row + offset
            muted = rec["status"] != TO_SHIP  # held or not shipped: greyed out
            for col, name in enumerate(columns):
                value = rec[name]
                if name in kinds:
                    fmt = (held_formats if muted else number_formats)[kinds[name]]
                    if value is None or pd.isna(value):
                        sheet.write_blank(row, col, None, fmt)
                    else:
                        sheet.write_number(row, col, float(value), fmt)
                else:
                    put_text(
                        row,
                        col,
                        value,
                        held_text if muted else text,
                        held_quoted if muted else quoted,
                    )
        last_row = head_row + len(part)
        total_row = last_row + 1
        sheet.write_string(total_row, 0, "Total to ship", total_label)
        for col in range(1, len(columns)):
            sheet.write_blank(total_row, col, None, total_label)
        for name in ("qty", "line_value"):
            col = columns.index(name)
            letter = _column_letter(col)
            formula = f"=SUBTOTAL(109,{letter}{head_row + 2}:{letter}{last_row + 1})"
            cached = round(float(part[name].astype(float).fillna(0).sum()), 2)
            sheet.write_formula(total_row, col, formula, total_formats[kinds[name]], cached)

        sheet.freeze_panes(head_row + 1, 0)
        sheet.autofilter(head_row, 0, last_row, len(columns) - 1)
        widths = {"sku": 14, "description": 34, "status": 11, "dealer_note": 48}
        for col, name in enumerate(columns):
            sheet.set_column(col, col, widths.get(name, 12))
        sheet.set_row(head_row, 30)
        sheet.set_landscape()
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(head_row)
        sheet.set_header(f"&L{first['po_reference']}&R&P / &N")
    finally:
        book.close()
    return path


def write_dealer_exports(run_dir: Path) -> list[Path]:
    """Write ``exports/<dealer file>.csv`` and ``.xlsx`` for every dealer with a decided line.

    Parameters
    ----------
    run_dir : Path
        An approved run folder.

    Returns
    -------
    list of Path
        The files written (CSV and XLSX per dealer, sorted by dealer). The ``exports/``
        folder is replaced as a whole; a dealer whose lines are all held still gets its files,
        listing them as held with the dealer note.

    Raises
    ------
    FileNotFoundError
        The run has not been approved yet.
    ValueError
        Two dealer ids map to the same file name (`order_file_name` makes this a SHA-256
        collision of their ids: a defensive check).
    """
    run_dir = Path(run_dir)
    frame = dealer_export_frame(run_dir)
    approved_at = _readable_time(_approval(run_dir).get("approved_at"))
    exports = run_dir / EXPORTS_DIR
    stems: dict[str, str] = {}
    for dealer in frame["dealer_id"].unique():
        stem = order_file_name(str(dealer))[: -len(".csv")]
        if stem in stems.values():
            raise ValueError(f"dealers '{dealer}' and another map to the same export file {stem}")
        stems[dealer] = stem
    written: list[Path] = []
    with atomic_dir(exports) as temp:
        for dealer, part in frame.groupby("dealer_id", sort=True):
            stem = stems[str(dealer)]
            write_csv(part, temp / f"{stem}.csv")
            write_xlsx(part.reset_index(drop=True), temp / f"{stem}.xlsx", approved_at=approved_at)
            written += [exports / f"{stem}.csv", exports / f"{stem}.xlsx"]
    return written
