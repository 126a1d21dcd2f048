"""Feed folders: absent means no files; present but unlistable fails the ingest (and the run)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from landing.ingest import ingest_landing

DEALERS = (
    "dealer_id,dealer_name,region,territory,lead_time_days,lead_time_sd_days,review_period_days\n"
    "D1,One,North,T1,7,1,7\n"
)
SKUS = "sku,description,category,unit_cost,pack_size,moq\nS1,Widget,c,10,6,0\n"
SALES = "dealer_id,sku,date,qty_sold\nD1,S1,2024-01-05,3\n"


def make_landing(root: Path, folders=("master", "sell_through", "inventory", "shipments")) -> Path:
    landing = root / "landing"
    for folder in folders:
        (landing / folder).mkdir(parents=True)
    (landing / "master" / "dealers.csv").write_text(DEALERS)
    (landing / "master" / "skus.csv").write_text(SKUS)
    return landing


def raw_counts(con) -> dict[str, int]:
    return {
        table: con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]
        for table in ("dealers", "skus", "sell_through", "file_ledger")
    }


def test_absent_feed_folders_mean_no_files(tmp_path):
    landing = make_landing(tmp_path, folders=("master", "sell_through"))
    (landing / "sell_through" / "jan.csv").write_text(SALES)
    con = duckdb.connect()
    result = ingest_landing(landing, con, run_id="r1", as_of=None)
    assert [entry["path"] for entry in result.files] == [
        "master/dealers.csv",
        "master/skus.csv",
        "sell_through/jan.csv",
    ]
    assert result.rows_accepted == {
        "dealers": 1,
        "skus": 1,
        "dealer_skus": 0,
        "price_list": 0,
        "supply": 0,
        "sell_through": 1,
        "inventory": 0,
        "shipments": 0,
    }


def test_dangling_symlink_feed_folder_raises_and_writes_nothing(tmp_path):
    """An unmounted share: the link is there, its target is not."""
    landing = make_landing(tmp_path, folders=("master", "sell_through", "shipments"))
    (landing / "sell_through" / "jan.csv").write_text(SALES)
    share = tmp_path / "mnt" / "dealer-share" / "inventory"
    (landing / "inventory").symlink_to(share, target_is_directory=True)
    con = duckdb.connect()
    with pytest.raises(OSError) as caught:
        ingest_landing(landing, con, run_id="r1", as_of=None)
    assert isinstance(caught.value, FileNotFoundError)
    assert str(landing / "inventory") in str(caught.value)
    assert "not mounted" in str(caught.value)
    # Every folder is listed before the first file is read: master data was not loaded either.
    assert raw_counts(con) == {"dealers": 0, "skus": 0, "sell_through": 0, "file_ledger": 0}

    # Once the share is back, the same call succeeds.
    share.mkdir(parents=True)
    result = ingest_landing(landing, con, run_id="r2", as_of=None)
    assert result.rows_accepted["sell_through"] == 1


def test_unlistable_feed_folder_raises_permission_error(tmp_path, monkeypatch):
    landing = make_landing(tmp_path)
    blocked = landing / "shipments"
    real_scandir = os.scandir

    def scandir(path):
        if Path(path) == blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    # The suite runs as root here, where chmod 000 does not stop listing: fault injection
    # gives the same error a non-root user gets (the next test does it for real when it can).
    monkeypatch.setattr(os, "scandir", scandir)
    con = duckdb.connect()
    with pytest.raises(PermissionError):
        ingest_landing(landing, con, run_id="r1", as_of=None)
    assert raw_counts(con)["file_ledger"] == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists folders whatever their mode")
def test_chmod_000_feed_folder_raises_permission_error(tmp_path):
    landing = make_landing(tmp_path)
    blocked = landing / "sell_through"
    blocked.chmod(0)
    try:
        with pytest.raises(PermissionError):
            ingest_landing(landing, duckdb.connect(), run_id="r1", as_of=None)
    finally:
        blocked.chmod(0o755)


def test_feed_folder_that_is_a_file_raises(tmp_path):
    landing = make_landing(tmp_path, folders=("master",))
    (landing / "sell_through").write_text("not a folder")
    with pytest.raises(NotADirectoryError):
        ingest_landing(landing, duckdb.connect(), run_id="r1", as_of=None)


def test_missing_landing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        ingest_landing(tmp_path / "nowhere", duckdb.connect(), run_id="r1", as_of=None)


def test_dangling_file_link_is_reported_unreadable_not_skipped(tmp_path):
    landing = make_landing(tmp_path)
    (landing / "sell_through" / "feb.csv").symlink_to(tmp_path / "gone.csv")
    result = ingest_landing(landing, duckdb.connect(), run_id="r1", as_of=None)
    entry = [e for e in result.files if e["path"] == "sell_through/feb.csv"][0]
    assert entry["status"] == "rejected"
    assert entry["reason"].startswith("sell_through/feb.csv: unreadable")


def test_flow_task_treats_an_unlistable_folder_as_transient(tmp_path):
    """The ingest task raises the OSError, and the flow's retry condition retries it."""
    from prefect.logging import disable_run_logger

    from flows.nightly import ingest_and_validate, is_transient
    from flows.settings import RunSettings

    landing = make_landing(tmp_path, folders=("master", "sell_through", "shipments"))
    (landing / "inventory").symlink_to(tmp_path / "unmounted", target_is_directory=True)
    settings = RunSettings.from_args(landing, tmp_path / "wh.duckdb", tmp_path / "out")
    with disable_run_logger(), pytest.raises(OSError) as caught:
        ingest_and_validate.fn(settings, "r1")

    class FailedState:
        def result(self):
            raise caught.value

    class BadDataState:
        def result(self):
            raise ValueError("bad data is not transient")

    assert is_transient(None, None, FailedState()) is True
    assert is_transient(None, None, BadDataState()) is False
