"""The DuckDB warehouse: every SQL statement the Python code runs lives in this package.

`connect` opens the file and makes sure the schemas and the pipeline's own tables exist; the
raw tables are created from landing's feed schema when a load starts. dbt owns `staging`,
`intermediate`, `marts` and `reporting` (docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.approvals import create_approved_lines
from warehouse.connection import ensure_tables, scalar, transaction
from warehouse.marker import NotAWarehouse, open_checked, write_marker
from warehouse.pipeline import pipeline_tables

__all__ = ["NotAWarehouse", "connect", "ensure_tables", "scalar", "transaction"]


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, creating its folder, schemas and the pipeline's tables.

    Read-write opens are checked first (`warehouse.marker`): a file that is not a dealer-vmi
    warehouse, or one of a newer release, raises `NotAWarehouse` and is left untouched.
    """
    path = Path(path)
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = open_checked(path)
    create_approved_lines(con)
    ensure_tables(con, "pipeline", pipeline_tables())
    write_marker(con)
    return con
