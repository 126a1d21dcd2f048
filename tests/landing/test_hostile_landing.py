"""Hostile files, end to end: dropped into a generated landing and run through the nightly flow.

Every case of tests/fixtures/hostile/expected.json must come out of the real flow (Prefect API,
GX, dbt, forecast, publish) with its status, reason, row counts and quarantine rules, the run
must still publish, and each rejected file must raise a feed_rejected alert.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
sys.path.insert(0, str(HOSTILE))
import make_hostile  # noqa: E402

pytestmark = pytest.mark.slow
EXPECTED = json.loads((HOSTILE / "expected.json").read_text(encoding="utf-8"))["files"]
FEED_TABLE = {"sell_through": "sell_through", "inventory": "inventory", "shipments": "shipments"}


@pytest.fixture(scope="module")
def hostile_run(prefect_api, tmp_path_factory):
    from flows.nightly import nightly_replenishment
    from sampledata import generate

    base = tmp_path_factory.mktemp("hostile")
    landing = base / "landing"
    generate(landing, dealers=4, skus=12, days=200, start=None, seed=5)
    installed = make_hostile.install(landing)
    warehouse = base / "warehouse.duckdb"
    out = base / "out"
    folder = Path(
        nightly_replenishment(landing=str(landing), warehouse=str(warehouse), out=str(out))
    )
    summary = json.loads((folder / "run_summary.json").read_text())
    quarantine = pd.read_csv(folder / "quarantine.csv", dtype=str, keep_default_na=False)
    alerts = pd.read_csv(folder / "alerts.csv", dtype=str, keep_default_na=False)
    return {
        "folder": folder,
        "installed": installed,
        "warehouse": warehouse,
        "files": {entry["path"]: entry for entry in summary["files"]},
        "summary": summary,
        "quarantine": quarantine,
        "alerts": alerts,
    }


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_fixture_list_and_expectations_match(hostile_run):
    assert sorted(EXPECTED) == hostile_run["installed"]
    # Committed files stay small; binary and long cases are generated at test time.
    for rel in make_hostile.committed_files():
        assert (HOSTILE / rel).stat().st_size <= 512, rel
        assert not EXPECTED[rel.as_posix()].get("generated"), rel


def test_run_published_despite_hostile_files(hostile_run):
    folder = hostile_run["folder"]
    assert (folder / "run_summary.json").is_file() and (folder / "suggestions.csv").is_file()
    assert not any(p.name.startswith(".tmp-") for p in folder.parent.iterdir())
    statuses = query(hostile_run["warehouse"], "select status from pipeline.runs")
    assert statuses == [("published",)]
    assert len(pd.read_csv(folder / "suggestions.csv")) > 0


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_each_hostile_file_outcome(hostile_run, path):
    expected = EXPECTED[path]
    entry = hostile_run["files"][path]
    assert entry["status"] == expected["status"], entry
    assert expected["reason"] in entry["reason"], entry
    if not expected["reason"]:
        assert entry["reason"] == "", entry
    assert entry["rows_read"] == expected["rows_read"], entry
    assert entry["rows_accepted"] == expected["rows_accepted"], entry
    assert entry["rows_read"] == entry["rows_accepted"] + entry["rows_quarantined"], entry

    mine = hostile_run["quarantine"][hostile_run["quarantine"]["source_file"] == path]
    assert mine["rule"].value_counts().to_dict() == expected["quarantine"]
    assert len(mine) == entry["rows_quarantined"]
    # Quarantine rows name real lines of the file (header = line 1), each at most once.
    assert (mine["line"].astype(int) >= 2).all() and not mine["line"].duplicated().any()

    table = FEED_TABLE[path.split("/")[0]]
    loaded = query(
        hostile_run["warehouse"], f"select count(*) from raw.{table} where source_file = ?", [path]
    )[0][0]
    assert loaded == expected["rows_accepted"]


def test_every_file_of_the_run_accounts_for_its_rows(hostile_run):
    for path, entry in hostile_run["files"].items():
        assert entry["rows_read"] == entry["rows_accepted"] + entry["rows_quarantined"], entry
        if path not in EXPECTED:  # the generated world itself is clean
            assert entry["status"] == "accepted", entry
    ledger = dict(
        query(hostile_run["warehouse"], "select source_file, rows_read from raw.file_ledger")
    )
    for path, entry in hostile_run["files"].items():
        if path in ledger:
            assert ledger[path] == entry["rows_read"], path


def test_rejected_files_raise_feed_rejected_alerts(hostile_run):
    alerts = hostile_run["alerts"]
    rejected = sorted(p for p, e in hostile_run["files"].items() if e["status"] == "rejected")
    assert rejected == sorted(p for p, e in EXPECTED.items() if e["status"] == "rejected")
    messages = alerts.loc[alerts["alert_type"] == "feed_rejected", "message"].tolist()
    assert len(messages) == len(rejected)
    for path in rejected:
        (message,) = [m for m in messages if f"File {path} " in m]
        assert hostile_run["files"][path]["reason"] in message
    assert hostile_run["summary"]["alerts"]["feed_rejected"] == len(rejected)


@pytest.mark.parametrize("path", sorted(p for p, e in EXPECTED.items() if "stored" in e))
def test_values_reach_the_warehouse_as_sent(hostile_run, path):
    """Chinese text decoded, SQL-looking text kept verbatim, numbers parsed, never garbled."""
    stored = EXPECTED[path]["stored"]
    table = FEED_TABLE[path.split("/")[0]]
    rows = query(
        hostile_run["warehouse"],
        f'select "{stored["column"]}" from raw.{table} where source_file = ? order by line',
        [path],
    )
    assert [row[0] for row in rows] == stored["values"]


def test_sql_looking_ids_are_quarantined_verbatim_and_harm_nothing(hostile_run):
    path = "sell_through/hostile_17_sql_ids.csv"
    quarantine = hostile_run["quarantine"]
    values = quarantine.loc[quarantine["source_file"] == path, "value"].tolist()
    assert sorted(values) == sorted(EXPECTED[path]["quarantined_values"])
    warehouse = hostile_run["warehouse"]
    assert query(warehouse, "select count(*) from raw.dealers")[0][0] >= 4
    assert query(warehouse, "select count(*) from raw.file_ledger")[0][0] > 0
    records = quarantine.loc[quarantine["source_file"] == path, "raw_record"].map(json.loads)
    assert {r["dealer_id"] for r in records} >= {"D001'; DROP TABLE raw.sell_through; --"}


def test_long_strings_are_kept_whole_or_quarantined_whole(hostile_run):
    path = "sell_through/hostile_16_long_strings.csv"
    rows = query(
        hostile_run["warehouse"],
        "select customer_region from raw.sell_through where source_file = ?",
        [path],
    )
    assert rows == [(make_hostile.LONG_REGION,)]
    quarantine = hostile_run["quarantine"]
    mine = quarantine[quarantine["source_file"] == path].sort_values("line")
    assert mine["value"].tolist() == [make_hostile.LONG_SKU, make_hostile.LONG_DEALER]
    assert mine["column"].tolist() == ["sku", "dealer_id"]
