"""One writer per warehouse: a second run on a held warehouse exits at once and writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb

from warehouse import connect, runs
from warehouse.lock import warehouse_lock


def test_second_run_on_a_held_warehouse_fails_clearly_and_writes_nothing(prefect_api, tmp_path):
    from sampledata import generate

    landing = tmp_path / "landing"
    generate(landing, dealers=2, skus=3, days=40, start=None, seed=5)
    warehouse = tmp_path / "wh.duckdb"
    out = tmp_path / "out"
    with connect(warehouse) as con:  # a warehouse with one earlier published run
        runs.start_run(con, "earlier-run", out)
        runs.set_run_as_of(con, "earlier-run", date(2026, 1, 5))
        runs.finish_run(con, "earlier-run", "published")
        before = con.execute("select * from pipeline.runs order by run_id").fetchall()

    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    vmi = Path(sys.executable).with_name("vmi")
    with warehouse_lock(warehouse):
        done = subprocess.run(
            [vmi, "run", "--landing", landing, "--warehouse", warehouse, "--out", out],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 1, done.stderr
    assert "is in use by another run" in done.stderr
    assert str(os.getpid()) in done.stderr  # names the holder
    with duckdb.connect(str(warehouse), read_only=True) as con:
        after = con.execute("select * from pipeline.runs order by run_id").fetchall()
        raw_tables = con.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = 'raw' and table_name = 'file_ledger'"
        ).fetchone()[0]
        raw_rows = (
            con.execute("select count(*) from raw.file_ledger").fetchone()[0] if raw_tables else 0
        )
    assert after == before
    assert raw_rows == 0
    assert not out.exists() or not any(out.rglob("*.csv"))


def test_lock_is_released_when_the_holder_leaves(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    with warehouse_lock(warehouse):
        pass
    with warehouse_lock(warehouse) as lock:  # taken again at once, no stale lock
        assert lock.is_file()
