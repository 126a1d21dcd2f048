"""The warehouse marker: other DuckDB files, random bytes and newer warehouses are refused
with one line and left byte-for-byte untouched; old warehouses get the marker."""

from __future__ import annotations

import hashlib
import os

import duckdb
import pytest

from warehouse import NotAWarehouse, connect
from warehouse.marker import PROJECT, SCHEMA_VERSION


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_file_gets_the_marker_once(tmp_path):
    path = tmp_path / "wh.duckdb"
    for _ in range(2):
        con = connect(path)
        rows = con.execute("select project, schema_version from pipeline.warehouse_info").fetchall()
        con.close()
    assert rows == [(PROJECT, SCHEMA_VERSION)]


def test_somebody_elses_duckdb_file_is_refused_untouched(tmp_path):
    path = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table customers (id integer, name varchar)")
    con.execute("insert into customers values (1, 'Ada')")
    con.close()
    before = digest(path)
    with pytest.raises(NotAWarehouse, match=r"not a dealer-vmi warehouse .*main\.customers"):
        connect(path)
    assert digest(path) == before
    con = duckdb.connect(str(path), read_only=True)
    schemas = {
        r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()
    }
    con.close()
    assert "pipeline" not in schemas and "raw" not in schemas


def test_random_bytes_are_refused_at_once_untouched(tmp_path):
    path = tmp_path / "noise.duckdb"
    path.write_bytes(os.urandom(64 * 1024))
    before = digest(path)
    with pytest.raises(NotAWarehouse, match="not a DuckDB database file") as caught:
        connect(path)
    assert "\n" not in str(caught.value)
    assert digest(path) == before


def test_a_newer_warehouse_is_refused(tmp_path):
    path = tmp_path / "wh.duckdb"
    connect(path).close()
    con = duckdb.connect(str(path))
    con.execute(
        "insert into pipeline.warehouse_info values (?, ?, now())", [PROJECT, SCHEMA_VERSION + 1]
    )
    con.close()
    with pytest.raises(NotAWarehouse, match=f"schema version {SCHEMA_VERSION + 1}"):
        connect(path)


def test_a_warehouse_from_before_the_marker_is_migrated(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema pipeline")
    con.execute("create schema raw")
    con.execute("create table pipeline.runs (run_id varchar)")
    con.execute("create table raw.file_ledger (path varchar)")
    con.execute("insert into pipeline.runs values ('r1')")
    con.close()
    con = connect(path)
    assert con.execute("select schema_version from pipeline.warehouse_info").fetchall() == [
        (SCHEMA_VERSION,)
    ]
    assert con.execute("select run_id from pipeline.runs").fetchall() == [("r1",)]
    con.close()
