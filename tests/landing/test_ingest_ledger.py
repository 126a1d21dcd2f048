"""File ledger, idempotency, restatements, rollback, transactions and streaming of large files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

import landing.ingest as ingest_module
from landing.ingest import ingest_landing
from warehouse.raw import newest_feed_date
from warehouse.runs import rollback_run

AS_OF = date(2024, 3, 1)
DEALERS = (
    "dealer_id,dealer_name,region,territory,lead_time_days,lead_time_sd_days,review_period_days\n"
    "D1,One,North,T1,7,1,7\nD2,Two,South,T2,5,1,7\n"
)
SKUS = "sku,description,category,unit_cost,pack_size,moq\nS1,Widget,c,10,6,0\nS2,Gadget,c,5,1,0\n"
SALES = "dealer_id,sku,date,qty_sold\nD1,S1,2024-01-05,3\nD1,S2,2024-01-05,1\n"


def make_landing(root: Path, name: str = "landing") -> Path:
    landing = root / name
    for folder in ("master", "sell_through", "inventory", "shipments"):
        (landing / folder).mkdir(parents=True)
    (landing / "master" / "dealers.csv").write_text(DEALERS)
    (landing / "master" / "skus.csv").write_text(SKUS)
    return landing


def run(landing: Path, con, run_id: str, **kwargs):
    result = ingest_landing(landing, con, run_id=run_id, as_of=AS_OF, **kwargs)
    for entry in result.files:
        assert entry["rows_read"] == entry["rows_accepted"] + entry["rows_quarantined"], entry
    return result


def count(con, sql: str, params=None) -> int:
    return con.execute(sql, params or []).fetchall()[0][0]


def test_same_content_under_another_name_counts_once(tmp_path):
    landing = make_landing(tmp_path)
    (landing / "sell_through" / "jan.csv").write_text(SALES)
    (landing / "sell_through" / "jan_copy.csv").write_text(SALES)
    con = duckdb.connect()
    result = run(landing, con, "r1")
    copy = [e for e in result.files if e["path"] == "sell_through/jan_copy.csv"][0]
    assert copy["status"] == "duplicate"
    assert copy["rows_read"] == 0
    assert copy["reason"] == "same content as sell_through/jan.csv ingested in run r1"
    assert count(con, "select count(*) from raw.sell_through") == 2


def test_rerun_of_the_same_landing_adds_nothing(tmp_path):
    landing = make_landing(tmp_path)
    (landing / "sell_through" / "jan.csv").write_text(SALES)
    con = duckdb.connect()
    run(landing, con, "r1")
    second = run(landing, con, "r2")
    assert {e["status"] for e in second.files} == {"duplicate"}
    assert count(con, "select count(*) from raw.sell_through") == 2
    assert count(con, "select count(*) from raw.dealers") == 2
    assert count(con, "select count(*) from raw.file_ledger") == 3


def test_restatement_appends_with_a_later_delivery_seq(tmp_path):
    con = duckdb.connect()
    first = make_landing(tmp_path, "night1")
    (first / "sell_through" / "d1_jan.csv").write_text(SALES)
    run(first, con, "r1")
    second = make_landing(tmp_path, "night2")
    corrected = SALES.replace("2024-01-05,3", "2024-01-05,5")
    (second / "sell_through" / "d1_jan_v2.csv").write_text(corrected)
    run(second, con, "r2")
    rows = con.execute(
        "select qty_sold, delivery_seq, run_id from raw.sell_through "
        "where dealer_id = 'D1' and sku = 'S1' order by delivery_seq"
    ).fetchall()
    assert [(qty, run_id) for qty, _, run_id in rows] == [(3.0, "r1"), (5.0, "r2")]
    assert rows[0][1] < rows[1][1]
    # The restatement wins when the latest delivery is taken per key (what dbt does).
    latest = con.execute(
        "select qty_sold from raw.sell_through where dealer_id = 'D1' and sku = 'S1' "
        "qualify delivery_seq = max(delivery_seq) over ()"
    ).fetchall()
    assert latest == [(5.0,)]


def test_delivery_seq_follows_file_names_within_a_run(tmp_path):
    landing = make_landing(tmp_path)
    (landing / "sell_through" / "b_later.csv").write_text(SALES)
    (landing / "sell_through" / "a_earlier.csv").write_text(SALES.replace(",3\n", ",4\n"))
    con = duckdb.connect()
    run(landing, con, "r1")
    seqs = dict(con.execute("select source_file, delivery_seq from raw.file_ledger").fetchall())
    assert seqs["master/dealers.csv"] < seqs["master/skus.csv"]
    assert seqs["master/skus.csv"] < seqs["sell_through/a_earlier.csv"]
    assert seqs["sell_through/a_earlier.csv"] < seqs["sell_through/b_later.csv"]


def test_rollback_run_removes_only_that_run(tmp_path):
    con = duckdb.connect()
    first = make_landing(tmp_path, "night1")
    (first / "sell_through" / "a.csv").write_text(SALES)
    run(first, con, "r1")
    second = make_landing(tmp_path, "night2")
    (second / "sell_through" / "b.csv").write_text(
        SALES.replace("2024-01-05", "2024-01-06") + "D9,S1,2024-01-06,1\n"
    )
    run(second, con, "r2")
    assert count(con, "select count(*) from raw.quarantine where run_id = 'r2'") == 1

    rollback_run(con, "r2")

    for table in ("sell_through", "dealers", "skus", "quarantine", "file_ledger"):
        assert count(con, f"select count(*) from raw.{table} where run_id = 'r2'") == 0
    assert count(con, "select count(*) from raw.sell_through where run_id = 'r1'") == 2
    # Once rolled back, the same file is new again and loads on the rerun.
    rerun = run(second, con, "r3")
    entry = [e for e in rerun.files if e["path"] == "sell_through/b.csv"][0]
    assert (entry["status"], entry["rows_accepted"]) == ("partial", 2)


def test_newest_feed_date_spans_sales_and_inventory(tmp_path):
    con = duckdb.connect()
    assert newest_feed_date(con) is None
    landing = make_landing(tmp_path)
    (landing / "sell_through" / "a.csv").write_text(SALES)
    (landing / "inventory" / "i.csv").write_text(
        "dealer_id,sku,snapshot_date,on_hand\nD1,S1,2024-01-09,4\n"
    )
    run(landing, con, "r1")
    assert newest_feed_date(con) == date(2024, 1, 9)


def test_crash_while_writing_a_file_leaves_none_of_it(tmp_path, monkeypatch):
    landing = make_landing(tmp_path)
    (landing / "sell_through" / "a.csv").write_text(SALES)
    con = duckdb.connect()
    real = ingest_module._ledger_row

    def crash_on_sales(run_state, entry, facts, delivery_seq):
        # Raised inside the batch's transaction, in the writing thread: the error reaches
        # the caller and the transaction rolls back.
        if entry["feed"] == "sell_through":
            raise OSError("disk full")
        return real(run_state, entry, facts, delivery_seq)

    monkeypatch.setattr(ingest_module, "_ledger_row", crash_on_sales)
    with pytest.raises(OSError):
        run(landing, con, "r1")
    # Master files committed before the crash; the sales file left no row anywhere.
    assert count(con, "select count(*) from raw.dealers") == 2
    assert count(con, "select count(*) from raw.sell_through") == 0
    assert count(con, "select count(*) from raw.file_ledger where feed = 'sell_through'") == 0
    monkeypatch.setattr(ingest_module, "_ledger_row", real)
    rollback_run(con, "r1")
    rerun = run(landing, con, "r2")
    assert rerun.rows_accepted["sell_through"] == 2


def test_large_file_streams_in_chunks_with_exact_lines(tmp_path):
    landing = make_landing(tmp_path)
    lines = ["dealer_id,sku,date,qty_sold"]
    for day in range(1, 26):
        lines.append(f"D1,S1,2024-01-{day:02d},{day}")
    lines[7] = "D1,S1,2024-01-07,oops"  # line 8 of the file
    lines.append("D1,S1,2024-01-03,99")  # duplicates line 4 across chunks
    (landing / "sell_through" / "big.csv").write_text("\n".join(lines) + "\n")
    con = duckdb.connect()
    result = run(landing, con, "r1", chunk_rows=4)
    entry = [e for e in result.files if e["path"] == "sell_through/big.csv"][0]
    assert (entry["rows_read"], entry["rows_accepted"], entry["rows_quarantined"]) == (26, 23, 3)
    quarantined = sorted(zip(result.quarantine["line"], result.quarantine["rule"], strict=True))
    assert quarantined == [(4, "duplicate_key"), (8, "type"), (27, "duplicate_key")]
    loaded = con.execute("select line, qty_sold from raw.sell_through order by line").fetchall()
    assert loaded[0] == (2, 1.0)
    assert (9, 8.0) in loaded and all(line not in (4, 8, 27) for line, _ in loaded)
    assert (
        len(
            {
                seq
                for (seq,) in con.execute(
                    "select distinct delivery_seq from raw.sell_through"
                ).fetchall()
            }
        )
        == 1
    )


def test_progress_reports_each_file(tmp_path):
    landing = make_landing(tmp_path)
    (landing / "sell_through" / "a.csv").write_text(SALES)
    messages: list[str] = []
    run(landing, duckdb.connect(), "r1", progress=messages.append)
    assert messages[-1] == "sell_through/a.csv: accepted (2 accepted, 0 quarantined)"
    assert len(messages) == 3


def test_large_file_malformed_late_is_rejected_whole_after_earlier_chunks(tmp_path):
    landing = make_landing(tmp_path)
    lines = ["dealer_id,sku,date,qty_sold"]
    lines += [f"D1,S1,2024-01-{day:02d},{day}" for day in range(1, 20)]
    lines.append("D1,S1,2024-01-20,1,extra,fields")  # line 21, in the fifth chunk of 4
    (landing / "sell_through" / "big.csv").write_text("\n".join(lines) + "\n")
    con = duckdb.connect()
    result = run(landing, con, "r1", chunk_rows=4)
    entry = [e for e in result.files if e["path"] == "sell_through/big.csv"][0]
    assert (entry["status"], entry["rows_read"]) == ("rejected", 0)
    assert "line 21" in entry["reason"]
    # Four chunks had been committed to the loading table: none reached raw, none is left.
    assert count(con, "select count(*) from raw.sell_through") == 0
    assert count(con, "select count(*) from raw.quarantine") == 0
    assert loading_tables(con) == []


def loading_tables(con) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'raw' and table_name like '\\_loading%' escape '\\'"
        ).fetchall()
    ]


def test_crash_in_a_large_file_leaves_nothing_in_raw_and_the_rerun_loads_it_once(
    tmp_path, monkeypatch
):
    landing = make_landing(tmp_path)
    lines = ["dealer_id,sku,date,qty_sold,unit_price"]
    lines += [f"D1,S1,2024-01-{day:02d},{day},2.5" for day in range(1, 20)]
    lines[5] = "D1,S1,2024-01-05,1,-3"  # a price_range row: its quarantine row is staged too
    (landing / "sell_through" / "big.csv").write_text("\n".join(lines) + "\n")
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    real = ingest_module._ledger_row

    def crash_on_sales(run_state, entry, facts, delivery_seq):
        # Raised inside the batch's transaction, in the writing thread: the error reaches
        # the caller and the transaction rolls back.
        if entry["feed"] == "sell_through":
            raise OSError("disk full")
        return real(run_state, entry, facts, delivery_seq)

    monkeypatch.setattr(ingest_module, "_ledger_row", crash_on_sales)
    with pytest.raises(OSError, match="disk full"):
        run(landing, con, "r1", chunk_rows=4)
    assert count(con, "select count(*) from raw.sell_through") == 0
    assert count(con, "select count(*) from raw.quarantine") == 0
    assert loading_tables(con) == []

    monkeypatch.setattr(ingest_module, "_ledger_row", real)
    rollback_run(con, "r1")
    result = run(landing, con, "r2", chunk_rows=4)
    entry = [e for e in result.files if e["path"] == "sell_through/big.csv"][0]
    assert (entry["status"], entry["rows_accepted"], entry["rows_quarantined"]) == (
        "partial",
        18,
        1,
    )
    assert count(con, "select count(*) from raw.sell_through") == 18
    assert con.execute("select line, rule from raw.quarantine").fetchall() == [(6, "price_range")]
    assert loading_tables(con) == []
    seqs = con.execute("select distinct delivery_seq from raw.sell_through").fetchall()
    ledger_seq = con.execute(
        "select delivery_seq from raw.file_ledger where source_file = 'sell_through/big.csv'"
    ).fetchall()
    assert seqs == ledger_seq and seqs[0][0] is not None
