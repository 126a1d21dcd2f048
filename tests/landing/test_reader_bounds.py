"""Readers keep memory bounded: an overlong line or an overwide header rejects the file with
its true reason (not "field larger than field limit")."""

from __future__ import annotations

import duckdb

from landing.ingest import ingest_landing
from landing.readers import MAX_COLUMNS, MAX_LINE_BYTES, file_facts

DEALERS = (
    "dealer_id,dealer_name,region,territory,lead_time_days,lead_time_sd_days,review_period_days\n"
    "D1,One,North,T1,7,1,7\n"
)
SKUS = "sku,description,category,unit_cost,pack_size,moq\nS1,Widget,c,10,6,0\n"


def landing_with(tmp_path, sales: bytes):
    landing = tmp_path / "landing"
    for folder in ("master", "sell_through"):
        (landing / folder).mkdir(parents=True)
    (landing / "master" / "dealers.csv").write_text(DEALERS)
    (landing / "master" / "skus.csv").write_text(SKUS)
    (landing / "sell_through" / "jan.csv").write_bytes(sales)
    return ingest_landing(landing, duckdb.connect(), run_id="r", as_of=None)


def entry(result):
    return next(f for f in result.files if f["path"].endswith("jan.csv"))


def test_the_longest_line_is_measured_across_blocks(tmp_path):
    path = tmp_path / "x.csv"
    # 3 MB line 3 spans three 1 MiB read blocks; line 5 is short
    path.write_bytes(b"a,b\n1,2\n" + b"9" * 3_000_000 + b"\n\n3,4\n")
    facts = file_facts(path)
    assert (facts.longest_line, facts.longest_line_number) == (3_000_000, 3)


def test_a_csv_without_newlines_is_rejected_for_its_line_length(tmp_path):
    rows = b"".join(b"D1,S1,2024-01-05,3;" for _ in range(100_000))  # newlines stripped
    result = landing_with(tmp_path, b"dealer_id,sku,date,qty_sold" + rows)
    file = entry(result)
    assert file["status"] == "rejected"
    length = len(b"dealer_id,sku,date,qty_sold" + rows)
    assert file["reason"].startswith(
        f"sell_through/jan.csv: line 1 is {length:,} bytes long (limit {MAX_LINE_BYTES:,}"
    )
    assert "field limit" not in file["reason"]


def test_a_header_of_too_many_columns_is_rejected_for_its_width(tmp_path):
    header = ",".join(["dealer_id", "sku", "date", "qty_sold"] + [f"x{i}" for i in range(600)])
    result = landing_with(tmp_path, (header + "\nD1,S1,2024-01-05,3\n").encode())
    file = entry(result)
    assert file["status"] == "rejected"
    assert (
        file["reason"]
        == f"sell_through/jan.csv: the header has 604 columns (limit {MAX_COLUMNS:,})"
    )
