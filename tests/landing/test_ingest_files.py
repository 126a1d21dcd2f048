"""Reading landing files: formats, encodings, delimiters, headers and file-level rejections."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from landing.ingest import ingest_landing

AS_OF = date(2024, 3, 1)
DEALERS = (
    "dealer_id,dealer_name,region,territory,lead_time_days,lead_time_sd_days,review_period_days\n"
    "D1,One,North,T1,7,1,7\nD2,Two,South,T2,5,1,7\n"
)
SKUS = "sku,description,category,unit_cost,pack_size,moq\nS1,Widget,c,10,6,0\nS2,Gadget,c,5,1,0\n"
SALES_HEADER = "dealer_id,sku,date,qty_sold\n"


def landing_with_master(root: Path) -> Path:
    landing = root / "landing"
    for folder in ("master", "sell_through", "inventory", "shipments"):
        (landing / folder).mkdir(parents=True)
    (landing / "master" / "dealers.csv").write_text(DEALERS)
    (landing / "master" / "skus.csv").write_text(SKUS)
    return landing


def ingest(landing: Path, con=None, run_id: str = "run-1"):
    con = con or duckdb.connect()
    result = ingest_landing(landing, con, run_id=run_id, as_of=AS_OF)
    for entry in result.files:
        assert entry["rows_read"] == entry["rows_accepted"] + entry["rows_quarantined"], entry
    return result, con


def entry_for(result, path: str) -> dict:
    matches = [entry for entry in result.files if entry["path"] == path]
    assert len(matches) == 1, result.files
    return matches[0]


def sales_rows(con) -> list[tuple]:
    return con.execute(
        "select source_file, line, dealer_id, sku, date, qty_sold from raw.sell_through "
        "order by source_file, line"
    ).fetchall()


def test_good_csv_parquet_and_xlsx_load_the_same_rows(tmp_path):
    landing = landing_with_master(tmp_path)
    frame = pd.DataFrame(
        {
            "dealer_id": ["D1", "D2"],
            "sku": ["S1", "S2"],
            "date": ["2024-01-05", "2024-01-06"],
            "qty_sold": ["3", "4.5"],
        }
    )
    frame.to_csv(landing / "sell_through" / "a.csv", index=False)
    typed = frame.assign(
        date=pd.to_datetime(frame["date"]).dt.date, qty_sold=frame["qty_sold"].astype(float)
    )
    typed.assign(dealer_id=["D1", "D1"]).to_parquet(landing / "sell_through" / "b.parquet")
    typed.assign(sku=["S2", "S1"]).to_excel(landing / "sell_through" / "c.xlsx", index=False)

    result, con = ingest(landing)

    assert [e["status"] for e in result.files[2:]] == ["accepted"] * 3
    assert result.rows_accepted["sell_through"] == 6
    rows = sales_rows(con)
    assert rows == [
        ("sell_through/a.csv", 2, "D1", "S1", date(2024, 1, 5), 3.0),
        ("sell_through/a.csv", 3, "D2", "S2", date(2024, 1, 6), 4.5),
        ("sell_through/b.parquet", 2, "D1", "S1", date(2024, 1, 5), 3.0),
        ("sell_through/b.parquet", 3, "D1", "S2", date(2024, 1, 6), 4.5),
        ("sell_through/c.xlsx", 2, "D1", "S2", date(2024, 1, 5), 3.0),
        ("sell_through/c.xlsx", 3, "D2", "S1", date(2024, 1, 6), 4.5),
    ]


@pytest.mark.parametrize(
    ("payload", "note"),
    [
        ("\ufeffdealer_id,sku,date,qty_sold\nD1,S1,2024-01-05,3\n".encode(), ""),
        (b"dealer_id;sku;date;qty_sold\nD1;S1;2024-01-05;3\n", "semicolon delimited"),
        (b"dealer_id\tsku\tdate\tqty_sold\nD1\tS1\t2024-01-05\t3\n", "tab delimited"),
        (b"dealer_id,sku,date,qty_sold\r\nD1,S1,2024-01-05,3\r\n", ""),
    ],
    ids=["utf8-bom", "semicolon", "tab", "crlf"],
)
def test_bom_and_delimiters(tmp_path, payload, note):
    landing = landing_with_master(tmp_path)
    (landing / "sell_through" / "f.csv").write_bytes(payload)
    result, con = ingest(landing)
    entry = entry_for(result, "sell_through/f.csv")
    assert entry["status"] == "accepted"
    assert entry["reason"] == note
    assert sales_rows(con) == [("sell_through/f.csv", 2, "D1", "S1", date(2024, 1, 5), 3.0)]


def test_gb18030_file_is_decoded_not_garbled(tmp_path):
    landing = landing_with_master(tmp_path)
    text = "dealer_id,sku,date,qty_sold,customer_region\nD1,S1,2024-01-05,3,华北地区\n"
    (landing / "sell_through" / "gb.csv").write_bytes(text.encode("gb18030"))
    result, con = ingest(landing)
    entry = entry_for(result, "sell_through/gb.csv")
    assert entry["status"] == "accepted"
    assert "GB18030" in entry["reason"]
    assert con.execute("select customer_region from raw.sell_through").fetchall() == [("华北地区",)]


def test_big5_file_is_decoded_not_garbled(tmp_path):
    landing = landing_with_master(tmp_path)
    text = "dealer_id,sku,date,qty_sold,customer_region\nD1,S1,2024-01-05,3,台北市中山區\n"
    (landing / "sell_through" / "big5.csv").write_bytes(text.encode("big5"))
    result, con = ingest(landing)
    entry = entry_for(result, "sell_through/big5.csv")
    assert entry["status"] == "accepted"
    assert "BIG5" in entry["reason"]
    assert con.execute("select customer_region from raw.sell_through").fetchall() == [
        ("台北市中山區",)
    ]


def test_undecodable_bytes_are_rejected_never_garbled(tmp_path):
    landing = landing_with_master(tmp_path)
    # Latin-1 accents and raw control bytes: neither UTF-8 nor plausible Chinese.
    payload = "dealer_id,sku,date,qty_sold,customer_region\nD1,S1,2024-01-05,3,Zürich é\n"
    (landing / "sell_through" / "latin.csv").write_bytes(payload.encode("latin-1") + b"\x81\x00")
    result, con = ingest(landing)
    entry = entry_for(result, "sell_through/latin.csv")
    assert entry["status"] == "rejected"
    assert entry["rows_read"] == 0
    assert entry["reason"] == (
        "sell_through/latin.csv: cannot decode as UTF-8 (invalid byte 0xFC on line 2); "
        "not GB18030 or Big5 either: please send UTF-8"
    )
    assert sales_rows(con) == []


def test_missing_required_column_is_named(tmp_path):
    landing = landing_with_master(tmp_path)
    (landing / "sell_through" / "nodate.csv").write_text("dealer_id,sku,qty_sold\nD1,S1,3\n")
    (landing / "sell_through" / "ok.csv").write_text(SALES_HEADER + "D1,S1,2024-01-05,3\n")
    result, con = ingest(landing)
    entry = entry_for(result, "sell_through/nodate.csv")
    assert entry["status"] == "rejected"
    assert entry["reason"] == "sell_through/nodate.csv: missing required column(s): date"
    # The other dealer file still runs.
    assert entry_for(result, "sell_through/ok.csv")["status"] == "accepted"
    assert len(sales_rows(con)) == 1


def test_column_names_match_case_and_space_insensitively_and_extras_are_noted(tmp_path):
    landing = landing_with_master(tmp_path)
    (landing / "sell_through" / "odd.csv").write_text(
        " Dealer_ID ,SKU, Date,QTY SOLD,Store Note\nD1,S1,2024-01-05,3,hello\n"
    )
    result, con = ingest(landing)
    entry = entry_for(result, "sell_through/odd.csv")
    assert entry["status"] == "accepted"
    assert entry["reason"] == "extra columns ignored: Store Note"
    assert sales_rows(con) == [("sell_through/odd.csv", 2, "D1", "S1", date(2024, 1, 5), 3.0)]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty file"),
        (b"\n\n", "empty file"),
        (SALES_HEADER.encode(), "header only, no data rows"),
        ((SALES_HEADER + ",,,\n\n").encode(), "header only, no data rows"),
    ],
    ids=["zero-bytes", "blank-lines", "header-only", "header-and-empty-records"],
)
def test_empty_and_header_only_files_are_rejected(tmp_path, payload, reason):
    landing = landing_with_master(tmp_path)
    (landing / "sell_through" / "x.csv").write_bytes(payload)
    result, _ = ingest(landing)
    entry = entry_for(result, "sell_through/x.csv")
    assert (entry["status"], entry["reason"], entry["rows_read"]) == (
        "rejected",
        f"sell_through/x.csv: {reason}",
        0,
    )


def test_corrupt_and_unknown_files_are_rejected_and_hidden_files_ignored(tmp_path):
    landing = landing_with_master(tmp_path)
    (landing / "sell_through" / "bad.parquet").write_bytes(b"not parquet at all")
    (landing / "sell_through" / "bad.xlsx").write_bytes(b"PK\x03\x04 truncated zip")
    (landing / "sell_through" / "notes.txt").write_text("hello")
    (landing / "sell_through" / ".DS_Store").write_bytes(b"\x00\x01")
    (landing / "master" / "regions.csv").write_text("region\nNorth\n")
    result, con = ingest(landing)
    paths = {entry["path"]: entry for entry in result.files}
    assert ".DS_Store" not in " ".join(paths)
    assert paths["sell_through/bad.parquet"]["reason"].startswith(
        "sell_through/bad.parquet: unreadable Parquet file"
    )
    assert paths["sell_through/bad.xlsx"]["reason"].startswith(
        "sell_through/bad.xlsx: unreadable .xlsx file"
    )
    assert paths["sell_through/notes.txt"]["reason"] == (
        "sell_through/notes.txt: unsupported file type .txt (expected .csv, .parquet or .xlsx)"
    )
    assert paths["master/regions.csv"]["status"] == "rejected"
    assert "unknown master file" in paths["master/regions.csv"]["reason"]
    ledger = dict(con.execute("select source_file, status from raw.file_ledger").fetchall())
    assert ledger["sell_through/notes.txt"] == "rejected"


def test_malformed_csv_row_rejects_the_file_with_its_line(tmp_path):
    landing = landing_with_master(tmp_path)
    (landing / "sell_through" / "m.csv").write_text(
        SALES_HEADER + "D1,S1,2024-01-05,3\nD1,S1,2024-01-06,3,9,9\n"
    )
    result, con = ingest(landing)
    entry = entry_for(result, "sell_through/m.csv")
    assert entry["status"] == "rejected"
    assert "malformed CSV" in entry["reason"] and "line 3" in entry["reason"]
    assert sales_rows(con) == []


def test_xlsx_uses_first_sheet_with_required_columns(tmp_path):
    landing = landing_with_master(tmp_path)
    path = landing / "sell_through" / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(writer, sheet_name="Cover", index=False)
        pd.DataFrame(
            {
                "dealer_id": ["D2"],
                "sku": ["S2"],
                "date": [pd.Timestamp("2024-02-01")],
                "qty_sold": [7],
            }
        ).to_excel(writer, sheet_name="Data", index=False)
    result, con = ingest(landing)
    entry = entry_for(result, "sell_through/book.xlsx")
    assert entry["status"] == "accepted"
    assert entry["reason"] == "sheet 'Data' used"
    assert sales_rows(con) == [("sell_through/book.xlsx", 2, "D2", "S2", date(2024, 2, 1), 7.0)]


def test_xlsx_without_a_matching_sheet_names_what_each_lacks(tmp_path):
    landing = landing_with_master(tmp_path)
    path = landing / "sell_through" / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"dealer_id": ["D1"]}).to_excel(writer, sheet_name="A", index=False)
        pd.DataFrame({"sku": ["S1"]}).to_excel(writer, sheet_name="B", index=False)
    result, _ = ingest(landing)
    reason = entry_for(result, "sell_through/book.xlsx")["reason"]
    assert "sheet 'A' lacks sku, date, qty_sold" in reason
    assert "sheet 'B' lacks dealer_id, date, qty_sold" in reason


def test_parquet_with_wrong_column_types_is_coerced_per_row(tmp_path):
    landing = landing_with_master(tmp_path)
    pd.DataFrame(
        {
            "dealer_id": ["D1", "D1", "D1"],
            "sku": ["S1", "S2", "S1"],
            "date": ["2024-01-05", "2024-01-06", "yesterday"],
            "qty_sold": ["3", "abc", "2"],
            "unit_price": [1.5, float("nan"), float("inf")],
        }
    ).to_parquet(landing / "sell_through" / "p.parquet")
    result, con = ingest(landing)
    entry = entry_for(result, "sell_through/p.parquet")
    assert (entry["rows_accepted"], entry["rows_quarantined"]) == (1, 2)
    quarantine = result.quarantine.set_index("line")
    assert quarantine.loc[3, ["rule", "column", "value"]].tolist() == ["type", "qty_sold", "abc"]
    # First rule in column order: the unparseable date comes before the infinite price.
    assert quarantine.loc[4, ["rule", "column", "value"]].tolist() == ["type", "date", "yesterday"]
    # A NaN float in Parquet means "no value" (pandas' missing marker), so row 2 keeps no price.
    assert con.execute("select unit_price from raw.sell_through").fetchall() == [(1.5,)]


def test_thousands_separator_in_quoted_field(tmp_path):
    landing = landing_with_master(tmp_path)
    (landing / "sell_through" / "t.csv").write_text(
        SALES_HEADER + 'D1,S1,2024-01-05,"1,234"\nD1,S2,2024-01-05,"12,34"\n'
    )
    result, con = ingest(landing)
    assert sales_rows(con) == [("sell_through/t.csv", 2, "D1", "S1", date(2024, 1, 5), 1234.0)]
    row = result.quarantine.iloc[0]
    assert (row["line"], row["rule"], row["value"]) == (3, "type", "12,34")


def test_sql_looking_values_are_stored_verbatim(tmp_path):
    landing = landing_with_master(tmp_path)
    evil_dealer = "D1'; DROP TABLE raw.sell_through;--"
    evil_sku = "../../etc/passwd"
    (landing / "master" / "dealers.csv").write_text(
        DEALERS + f'"{evil_dealer}",Evil,North,T1,7,1,7\n'
    )
    (landing / "master" / "skus.csv").write_text(SKUS + f"{evil_sku},Path,c,1,1,0\n")
    (landing / "sell_through" / "e.csv").write_text(
        SALES_HEADER + f'"{evil_dealer}",{evil_sku},2024-01-05,3\n"{evil_dealer}",S9,2024-01-05,3\n'
    )
    result, con = ingest(landing)
    assert entry_for(result, "sell_through/e.csv")["status"] == "partial"
    assert con.execute("select dealer_id, sku from raw.sell_through").fetchall() == [
        (evil_dealer, evil_sku)
    ]
    tables = {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    }
    assert "sell_through" in tables
    record = json.loads(result.quarantine.iloc[0]["raw_record"])
    assert record == {"dealer_id": evil_dealer, "sku": "S9", "date": "2024-01-05", "qty_sold": "3"}


def test_legacy_bytes_that_read_as_both_scripts_are_rejected_not_guessed(tmp_path):
    landing = landing_with_master(tmp_path)
    # GB18030 bytes of 不 are also the Big5 bytes of 祥: no way to tell, so no guessing.
    text = "dealer_id,sku,date,qty_sold,customer_region\nD1,S1,2024-01-05,3,不\n"
    (landing / "sell_through" / "short.csv").write_bytes(text.encode("gb18030"))
    assert "祥".encode("big5") == "不".encode("gb18030")
    result, con = ingest(landing)
    entry = entry_for(result, "sell_through/short.csv")
    assert entry["status"] == "rejected"
    assert entry["reason"] == (
        "sell_through/short.csv: cannot decode as UTF-8 (invalid byte 0xB2 on line 2); "
        "it reads as GB18030 and as Big5 alike, so it is not guessed: please send UTF-8"
    )
    assert sales_rows(con) == []


def test_utf8_check_streams_across_blocks_and_finds_the_first_bad_byte(tmp_path, monkeypatch):
    import landing.readers as readers

    # Tiny read blocks: multi-byte characters straddle block boundaries.
    monkeypatch.setattr(readers, "_READ_BLOCK", 5)
    good = "id,name\n1,台北市中山區\n2,Zürich\n".encode()
    (tmp_path / "good.csv").write_bytes(good)
    facts = readers.file_facts(tmp_path / "good.csv")
    assert (facts.is_utf8, facts.bad_utf8_offset, facts.size_bytes) == (True, None, len(good))

    bad = good + b"3,M\xfcller\n"
    (tmp_path / "bad.csv").write_bytes(bad)
    facts = readers.file_facts(tmp_path / "bad.csv")
    assert (facts.is_utf8, facts.bad_utf8_offset) == (False, bad.index(b"\xfc"))

    cut = good + "台".encode()[:2]  # a character cut off by the end of the file
    (tmp_path / "cut.csv").write_bytes(cut)
    facts = readers.file_facts(tmp_path / "cut.csv")
    assert (facts.is_utf8, facts.bad_utf8_offset) == (False, len(good))
