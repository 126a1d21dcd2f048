"""The planner's approvals in the warehouse: ``raw.approved_lines``.

`planner.approve` decides what is approved; this module only stores it. dbt reads the table as
a source and counts approved lines as ``on_order`` until a shipment covers them.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from warehouse.connection import ensure_tables
from warehouse.raw import insert_frame

TABLE = "approved_lines"
# Column -> SQL type: the one declaration of raw.approved_lines.
APPROVED_LINES_COLUMNS: dict[str, str] = {
    "approval_id": "VARCHAR",
    "run_id": "VARCHAR",
    "as_of": "DATE",
    "dealer_id": "VARCHAR",
    "sku": "VARCHAR",
    "suggested_qty": "DOUBLE",
    "approved_qty": "DOUBLE",
    "is_held": "BOOLEAN",
    "note": "VARCHAR",
    "approved_by": "VARCHAR",
    "approved_at": "TIMESTAMP",
}


def approved_lines_ddl() -> str:
    """The column DDL of raw.approved_lines (``name TYPE, ...``)."""
    return ", ".join(f"{name} {kind}" for name, kind in APPROVED_LINES_COLUMNS.items())


def create_approved_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``raw`` schema and ``raw.approved_lines`` when missing (idempotent)."""
    ensure_tables(con, "raw", {TABLE: approved_lines_ddl()})


def replace_approved_lines(con: duckdb.DuckDBPyConnection, as_of: date, rows: pd.DataFrame) -> int:
    """Replace every approved line of ``as_of`` with ``rows``: a re-approval never adds up.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open warehouse; run this inside `warehouse.connection.transaction` so the delete
        and the insert land together.
    as_of : date
        The run whose earlier approvals are removed.
    rows : pandas.DataFrame
        The approval's lines with every column of `APPROVED_LINES_COLUMNS` (others ignored).

    Returns
    -------
    int
        The number of lines written.
    """
    con.execute(f"delete from raw.{TABLE} where as_of = ?", [as_of])
    insert_frame(con, f"raw.{TABLE}", rows[list(APPROVED_LINES_COLUMNS)])
    return len(rows)
