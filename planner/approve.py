"""The planner's decision: apply overrides to a run's suggestions and write the orders.

`approve_run` is what `vmi approve` calls. It validates the whole overrides file first (every
problem is an `ApprovalError` naming file, line and column, and nothing is written), then
writes ``orders/<dealer file>.csv`` (`order_file_name`; atomically: a temporary folder renamed
into place), ``approval.json`` and one more block of ``audit.csv``; when a warehouse is known,
the approved lines replace earlier approvals of the same as-of in ``raw.approved_lines`` in one
transaction, and the dbt models count them as ``on_order`` in later runs. Text cells of the
CSVs are neutralised against formula injection (`planner.run_folder.write_csv`).
"""

from __future__ import annotations

import csv
import io
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from landing.schema import FALSE_WORDS, TRUE_WORDS
from planner import run_folder
from planner.line_rules import parse_qty, qty_problem, shown
from planner.run_folder import (
    APPROVAL_FILE,
    AUDIT_COLUMNS,
    DECISION_COLUMNS,
    ORDER_COLUMNS,
    ORDERS_DIR,
    SUMMARY_FILE,
    atomic_dir,
    order_file_name,
    read_run_summary,
    read_run_table,
    table_path,
    write_csv,
    write_json,
)
from replenishment.config import UnsafeFileError, read_regular_file
from warehouse import connect, transaction
from warehouse.approvals import create_approved_lines, replace_approved_lines

OVERRIDE_COLUMNS = ("dealer_id", "sku", "qty", "hold", "note")
REQUIRED_COLUMNS = ("dealer_id", "sku")
# The largest overrides file read (a regular file; a symbolic link only within its folder).
OVERRIDES_MAX_BYTES = 20_000_000


class ApprovalError(ValueError):
    """A bad overrides file or run folder: a one-line message the CLI prints (exit code 2).

    ``errors`` holds every problem found; the message is the first, plus how many more.
    """

    def __init__(self, errors: list[str] | str) -> None:
        errors = [errors] if isinstance(errors, str) else list(errors)
        # One line each, whatever a cell held (a quoted CSV cell may span lines).
        self.errors = [" ".join(e.splitlines()) for e in errors]
        message = self.errors[0]
        if len(self.errors) > 1:
            message += f" (and {len(self.errors) - 1} more problem(s))"
        super().__init__(message)


@dataclass(frozen=True)
class ApprovalResult:
    """What an approval wrote, for the CLI to print and the tests to check."""

    approval_id: str
    run_id: str
    as_of: date
    approved_by: str
    approved_at: datetime
    run_dir: Path
    order_files: list[Path] = field(default_factory=list)
    lines: int = 0
    changed: int = 0
    held: int = 0
    units: float = 0.0
    warehouse_rows: int = 0
    warehouse: Path | None = None


# --------------------------------------------------------------------------------------------
# Reading and validating the overrides file
# --------------------------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    """An XLSX cell as the text a planner typed (12.0 -> "12", True -> "true")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) for each non-blank row; the header is line 1.

    The file must be a regular file of at most `OVERRIDES_MAX_BYTES` (a FIFO, a device or a
    symbolic link out of its folder is refused before anything is read); no message quotes
    its content beyond the header cells of a file that is an overrides file.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise ApprovalError(
            f"{path}: line 1, column -: unsupported file type "
            f"{shown(path.suffix)} (use .csv or .xlsx)"
        )
    try:
        raw = read_regular_file(path, max_bytes=OVERRIDES_MAX_BYTES)
    except UnsafeFileError as exc:
        raise ApprovalError(f"{path}: line -, column -: {exc}") from None
    except FileNotFoundError:
        raise ApprovalError(f"{path}: line -, column -: file not found") from None
    except OSError as exc:
        raise ApprovalError(
            f"{path}: line -, column -: cannot read file ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        if suffix == ".csv":
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ApprovalError(
                    f"{path}: line -, column -: not UTF-8 text (save it as CSV UTF-8)"
                ) from None
            reader = csv.reader(io.StringIO(text, newline=""))
            rows = []
            for cells in reader:
                # reader.line_num is the physical line where this record ended.
                rows.append((reader.line_num, [c.strip() for c in cells]))
        else:
            from openpyxl import load_workbook

            workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                rows = [
                    (number, [_cell_text(v) for v in values])
                    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
                ]
            finally:
                workbook.close()
    except ApprovalError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        reason = shown(exc, 80)[1:-1] if str(exc) else type(exc).__name__
        raise ApprovalError(f"{path}: line 1, column -: cannot read file ({reason})") from None
    return [(n, cells) for n, cells in rows if any(cells)]


def _parse_bool(text: str) -> bool | None:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS or word == "":
        return False
    return None


def read_overrides(path: Path, lines: pd.DataFrame, *, as_of: str) -> pd.DataFrame:
    """Validate an overrides file against a run's suggestions.

    Parameters
    ----------
    path : Path
        CSV or XLSX with columns ``dealer_id, sku`` and optional ``qty, hold, note``
        (names matched case-insensitively and trimmed).
    lines : pandas.DataFrame
        The run's ``suggestions.csv`` (``dealer_id, sku, pack_size, suggested_qty``).
    as_of : str
        The run's as-of date, for the messages.

    Returns
    -------
    pandas.DataFrame
        ``line, dealer_id, sku, qty (float or NaN), hold (bool), note``.

    Raises
    ------
    ApprovalError
        Every problem, each as ``<file>: line <n>, column <name>: <what is wrong>``.
    """
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise ApprovalError(
            f"{path}: line 1, column -: empty file (expected a header "
            f"{', '.join(OVERRIDE_COLUMNS)})"
        )
    header_line, header = rows[0]
    names = [h.strip().lower() for h in header]
    if not set(names) & set(OVERRIDE_COLUMNS):
        # Not an overrides file at all (a wrong file, or a link to one): its content is not
        # repeated in the message.
        raise ApprovalError(
            f"{path}: line {header_line}, column -: not an overrides file (the first row "
            f"names none of the columns {', '.join(OVERRIDE_COLUMNS)})"
        )
    errors: list[str] = []
    for position, name in enumerate(names):
        if name and name not in OVERRIDE_COLUMNS:
            errors.append(
                f"{path}: line {header_line}, column {shown(header[position])[1:-1]}: unknown "
                f"column (expected {', '.join(OVERRIDE_COLUMNS)})"
            )
        elif name and names.index(name) != position:
            errors.append(f"{path}: line {header_line}, column {name}: column appears twice")
    for name in REQUIRED_COLUMNS:
        if name not in names:
            errors.append(f"{path}: line {header_line}, column {name}: missing required column")
    if errors:
        raise ApprovalError(errors)
    where = {name: names.index(name) for name in OVERRIDE_COLUMNS if name in names}

    packs = _line_rules(lines)
    dealers = set(lines["dealer_id"])
    seen: dict[tuple[str, str], int] = {}
    out = []
    for number, cells in rows[1:]:

        def cell(name: str, cells: list[str] = cells) -> str:
            position = where.get(name)
            return cells[position] if position is not None and position < len(cells) else ""

        def fail(column: str, message: str, number: int = number) -> None:
            errors.append(f"{path}: line {number}, column {column}: {message}")

        dealer, sku = cell("dealer_id"), cell("sku")
        if not dealer:
            fail("dealer_id", "empty dealer_id")
            continue
        if dealer not in dealers:
            fail(
                "dealer_id",
                f"unknown dealer {shown(dealer)} (not in suggestions.csv of run {as_of})",
            )
            continue
        if not sku:
            fail("sku", "empty sku")
            continue
        if (dealer, sku) not in packs:
            fail(
                "sku",
                f"unknown SKU {shown(sku)} for dealer {dealer} "
                f"(not in suggestions.csv of run {as_of})",
            )
            continue
        if (dealer, sku) in seen:
            fail(
                "sku", f"duplicate line for {dealer} / {sku} (first on line {seen[(dealer, sku)]})"
            )
            continue
        seen[(dealer, sku)] = number

        qty_text, qty = cell("qty"), math.nan
        if qty_text:
            pack, moq, level = packs[(dealer, sku)]
            problem = qty_problem(qty_text, pack, moq, order_up_to=level)
            if problem:
                fail("qty", problem)
                continue
            qty = float(parse_qty(qty_text))
        hold = _parse_bool(cell("hold"))
        if hold is None:
            fail("hold", f"hold {shown(cell('hold'))} is not one of true/false/yes/no/1/0")
            continue
        if hold and qty_text and qty > 0:
            fail(
                "hold",
                f"hold is true but qty is {qty_text}: to hold a line leave qty empty "
                f"or 0; to change it set hold false",
            )
            continue
        out.append(
            {
                "line": number,
                "dealer_id": dealer,
                "sku": sku,
                "qty": qty,
                "hold": hold,
                "note": cell("note"),
            }
        )
    if errors:
        raise ApprovalError(errors)
    return pd.DataFrame(out, columns=["line", "dealer_id", "sku", "qty", "hold", "note"])


def _line_rules(lines: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(dealer_id, sku) -> (pack size, MOQ, order-up-to) of each suggested line."""
    nan = pd.Series(math.nan, index=lines.index)
    moq = lines["moq"] if "moq" in lines else nan
    level = lines["order_up_to"] if "order_up_to" in lines else nan
    return {
        (d, s): (p, m, u)
        for d, s, p, m, u in zip(
            lines["dealer_id"],
            lines["sku"],
            lines["pack_size"].fillna(1.0),
            moq.fillna(0.0),
            level,
            strict=True,
        )
    }


def check_decisions(frame: pd.DataFrame, lines: pd.DataFrame, *, as_of: str) -> pd.DataFrame:
    """Validate decisions given as a frame (the workbench) with the rules of `read_overrides`.

    ``frame`` has ``dealer_id, sku`` and optional ``qty`` (NaN: keep the suggestion),
    ``hold``, ``note``, ``dealer_note``. Raises `ApprovalError` naming the line and column of
    every problem; returns the frame with all six columns.
    """
    frame = frame.reset_index(drop=True)
    for name, blank in (("qty", math.nan), ("hold", False), ("note", ""), ("dealer_note", "")):
        if name not in frame:
            frame[name] = blank
    rules = _line_rules(lines)
    frame["hold"] = frame["hold"].astype("boolean").fillna(False).astype(bool)
    errors = []
    for number, row in enumerate(frame.itertuples(index=False), start=1):
        where = f"decisions of run {as_of}: line {number}"
        if (row.dealer_id, row.sku) not in rules:
            errors.append(f"{where}, column sku: no suggestion for {row.dealer_id} / {row.sku}")
            continue
        qty = float(row.qty) if row.qty is not None else math.nan
        if not math.isnan(qty):
            pack, moq, level = rules[(row.dealer_id, row.sku)]
            problem = qty_problem(qty, pack, moq, order_up_to=level)
            if problem:
                errors.append(f"{where}, column qty: {problem}")
            elif bool(row.hold) and qty > 0:
                errors.append(f"{where}, column hold: held with qty {qty:g}")
    if frame.duplicated(["dealer_id", "sku"]).any():
        errors.append(f"decisions of run {as_of}: line -, column sku: duplicate lines")
    if errors:
        raise ApprovalError(errors)
    return frame.assign(
        line=range(1, len(frame) + 1),
        qty=frame["qty"].astype(float),
        hold=frame["hold"],
        note=frame["note"].fillna("").astype(str),
        dealer_note=frame["dealer_note"].fillna("").astype(str),
    )


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _warehouse_path(run_dir: Path, warehouse: Path | None) -> Path | None:
    if warehouse is not None:
        return Path(warehouse)
    named = read_run_summary(run_dir).get("warehouse")
    if not named:
        return None
    path = Path(named)
    if not path.exists():
        raise ApprovalError(
            f"{run_dir / SUMMARY_FILE}: line -, column warehouse: warehouse file {path} not found"
        )
    return path


def _insert_warehouse(path: Path, rows: pd.DataFrame, as_of: date) -> int:
    """Replace this as-of's approved lines in raw.approved_lines, all or nothing."""
    con = connect(path)
    try:
        create_approved_lines(con)
        with transaction(con):
            return replace_approved_lines(con, as_of, rows)
    finally:
        con.close()


def approve_run(
    out_dir: Path,
    as_of: date | str,
    overrides: Path | pd.DataFrame | None,
    *,
    approved_by: str,
    warehouse: Path | None = None,
) -> ApprovalResult:
    """Apply the planner's overrides to a run and write its orders.

    Parameters
    ----------
    out_dir : Path
        The output folder holding ``runs/<as_of>/``.
    as_of : date or str
        The run to approve (ISO date).
    overrides : Path, pandas.DataFrame or None
        CSV or XLSX with ``dealer_id, sku`` and optional ``qty`` (0, or whole packs of at
        least the MOQ: `planner.line_rules`), ``hold`` (true/false/yes/no/1/0) and ``note``;
        or the same as a frame (the workbench's edits, with ``dealer_note`` too: the note the
        dealer sees, while ``note`` stays internal). ``None`` approves the suggestions as
        they are.
    approved_by : str
        Who approves (recorded in approval.json, audit.csv and the warehouse).
    warehouse : Path, optional
        DuckDB file to record the approved lines in; defaults to the one named in
        ``run_summary.json`` (none: no warehouse write).

    Returns
    -------
    ApprovalResult

    Raises
    ------
    ApprovalError
        Missing run, bad overrides (file, line and column named) or a missing warehouse;
        nothing is written.

    Notes
    -----
    Final quantity per line: the override ``qty`` when given, 0 when held, else
    ``suggested_qty`` (``allocated_qty`` when supply.csv capped the night; decisions.csv then
    records it as the quantity decided from). Re-approving the same run replaces ``orders/``
    and the warehouse rows of that as-of, and appends to ``audit.csv``. Lines recorded are
    those with a suggestion or an override; lines with nothing suggested and no override carry
    no decision.
    """
    as_of_date = as_of if isinstance(as_of, date) else _parse_date(as_of)
    run_dir = run_folder.run_dir(out_dir, as_of_date)
    suggestions = table_path(run_dir, "suggestions")
    if not suggestions.exists():
        raise ApprovalError(
            f"{suggestions}: line -, column -: no published run for as-of {as_of_date.isoformat()}"
        )
    if not approved_by or not approved_by.strip():
        raise ApprovalError("approved_by: line -, column -: who approves must be given")
    lines = read_run_table(run_dir, "suggestions")
    run_id = str(lines["run_id"].iloc[0]) if len(lines) else ""
    if isinstance(overrides, pd.DataFrame):
        decided = check_decisions(overrides, lines, as_of=as_of_date.isoformat())
    elif overrides is not None:
        decided = read_overrides(overrides, lines, as_of=as_of_date.isoformat())
    else:
        decided = pd.DataFrame(columns=["line", "dealer_id", "sku", "qty", "hold", "note"])
    if "dealer_note" not in decided:
        decided = decided.assign(dealer_note="")
    warehouse_path = _warehouse_path(run_dir, warehouse)

    # A night capped by master/supply.csv offers what was allocated, not the policy quantity.
    offered = lines["allocated_qty"] if "allocated_qty" in lines else lines["suggested_qty"]
    offered = pd.to_numeric(offered, errors="coerce")
    merged = (
        lines[["dealer_id", "sku"]]
        .assign(suggested_qty=offered)
        .merge(decided, on=["dealer_id", "sku"], how="left", indicator=True)
    )
    suggested = merged["suggested_qty"].fillna(0.0)
    held = merged["hold"].astype("boolean").fillna(False).astype(bool)
    qty = merged["qty"].astype(float)
    approved = qty.where(qty.notna(), suggested.where(~held, 0.0))
    note = merged["note"].fillna("").astype(str)
    dealer_note = merged["dealer_note"].fillna("").astype(str)
    overridden = merged["_merge"] == "both"
    keep = (suggested > 0) | overridden
    decisions = pd.DataFrame(
        {
            "dealer_id": merged["dealer_id"],
            "sku": merged["sku"],
            "suggested_qty": suggested,
            "approved_qty": approved,
            "is_held": held,
            "note": note,
            "dealer_note": dealer_note,
        }
    )[keep].reset_index(drop=True)
    decisions["changed"] = (decisions["approved_qty"] != decisions["suggested_qty"]) | decisions[
        "is_held"
    ]

    approved_at = datetime.now(UTC).replace(microsecond=0)
    approval_id = f"{as_of_date.isoformat()}-{uuid.uuid4().hex[:12]}"
    stamp = approved_at.isoformat()

    # One file per dealer id: `order_file_name` gives distinct ids distinct names (a slug plus
    # a hash of the exact id), over every dealer of the run, shipping today or not. Two ids
    # sharing a name would take a SHA-256 collision; refused rather than mixed if it happened.
    names: dict[str, str] = {}
    for dealer in sorted(set(lines["dealer_id"]) | set(decisions["dealer_id"])):
        name = order_file_name(dealer)
        if name in names.values():
            raise ApprovalError(
                f"{suggestions}: line -, column dealer_id: dealers {shown(dealer)} and "
                f"another map to the same file {name}"
            )
        names[dealer] = name

    # Everything is validated: write orders to a temporary folder, swapped in at the end.
    orders = run_dir / ORDERS_DIR
    with atomic_dir(orders, token=approval_id) as temp:
        order_files = []
        to_ship = decisions[decisions["approved_qty"] > 0]
        for dealer, part in to_ship.groupby("dealer_id", sort=True):
            frame = part.rename(columns={"approved_qty": "qty"})[ORDER_COLUMNS]
            write_csv(frame, temp / names[dealer])
            order_files.append(orders / names[dealer])
        warehouse_rows = 0
        if warehouse_path is not None:
            rows = decisions.assign(
                approval_id=approval_id,
                run_id=run_id,
                as_of=as_of_date,
                approved_by=approved_by,
                approved_at=approved_at.replace(tzinfo=None),
                note=decisions["note"].where(decisions["note"] != "", None),
            )
            warehouse_rows = _insert_warehouse(warehouse_path, rows, as_of_date)

    counts = {
        "lines": len(decisions),
        "changed": int(decisions["changed"].sum()),
        "held": int(decisions["is_held"].sum()),
        "overridden": int(overridden.sum()),
        "dealers_with_orders": len(order_files),
        "units": float(decisions["approved_qty"].sum()),
        "suggested_units": float(decisions["suggested_qty"].sum()),
    }
    write_json(
        run_dir / APPROVAL_FILE,
        {
            "approval_id": approval_id,
            "run_id": run_id,
            "as_of": as_of_date.isoformat(),
            "approved_by": approved_by,
            "approved_at": stamp,
            "overrides": str(overrides) if overrides is not None else None,
            "warehouse": str(warehouse_path) if warehouse_path is not None else None,
            "counts": counts,
            "order_files": [p.name for p in order_files],
        },
    )
    # Text cells (ids, notes, who approved) are neutralised against formula injection;
    # read_run_table gives them back as decided.
    write_csv(
        decisions.assign(approval_id=approval_id, approved_by=approved_by, approved_at=stamp)[
            DECISION_COLUMNS
        ],
        table_path(run_dir, "decisions"),
    )
    audit = decisions.assign(approved_at=stamp, approved_by=approved_by)[AUDIT_COLUMNS]
    write_csv(audit, table_path(run_dir, "audit"), append=True)

    return ApprovalResult(
        approval_id=approval_id,
        run_id=run_id,
        as_of=as_of_date,
        approved_by=approved_by,
        approved_at=approved_at,
        run_dir=run_dir,
        order_files=order_files,
        lines=counts["lines"],
        changed=counts["changed"],
        held=counts["held"],
        units=counts["units"],
        warehouse_rows=warehouse_rows,
        warehouse=warehouse_path,
    )


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise ApprovalError(
            f"as_of: line -, column -: '{text}' is not an ISO date (YYYY-MM-DD)"
        ) from None
