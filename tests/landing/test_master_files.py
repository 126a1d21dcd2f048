"""The optional master files price_list.csv and supply.csv: validated like every feed.

Each file holds good rows and one bad row per rule; the bad rows are quarantined with the file,
line, column and rule, the good ones reach raw, and nothing is lost (read = accepted +
quarantined).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from landing.ingest import ingest_landing

AS_OF = date(2024, 3, 1)
DEALERS = (
    "dealer_id,dealer_name,region,territory,lead_time_days,lead_time_sd_days,review_period_days\n"
    "D1,One,North,T1,7,1,7\n"
)
SKUS = "sku,description,category,unit_cost,pack_size,moq\nS1,Widget,c,10,6,0\nS2,Gadget,c,5,1,0\n"
PRICE_LIST = (
    "sku,list_price,valid_from\n"
    "S1,12.5,2024-01-01\n"  # line 2: good
    "S1,13.0,2024-02-01\n"  # line 3: good (a later price of the same SKU)
    "S9,4.0,2024-01-01\n"  # line 4: unknown SKU
    "S2,0,2024-01-01\n"  # line 5: a price must be above 0
    "S2,3.5,2024-05-01\n"  # line 6: after the as-of
    "S2,abc,2024-01-01\n"  # line 7: not a number
    "S2,4.0,2024-01-15\n"  # line 8: good
)
SUPPLY = (
    "sku,available_qty,as_of\n"
    "S1,300,2024-02-28\n"  # line 2: good
    "S2,-5,2024-02-28\n"  # line 3: negative quantity
    "S2,,2024-02-28\n"  # line 4: empty quantity
    "S1,10,2024-02-28\n"  # line 5: same key as line 2 in this file
    "S2,40,2024-02-27\n"  # line 6: good
)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> tuple:
    landing: Path = tmp_path_factory.mktemp("master-files") / "landing"
    (landing / "master").mkdir(parents=True)
    for name, text in {
        "dealers.csv": DEALERS,
        "skus.csv": SKUS,
        "price_list.csv": PRICE_LIST,
        "supply.csv": SUPPLY,
    }.items():
        (landing / "master" / name).write_text(text)
    con = duckdb.connect()
    result = ingest_landing(landing, con, run_id="run-1", as_of=AS_OF)
    yield result, con
    con.close()


def quarantined(result, source_file: str) -> set[tuple]:
    return {
        (row["line"], row["column"], row["rule"])
        for row in result.quarantine.to_dict("records")
        if row["source_file"] == source_file
    }


def test_each_bad_price_list_row_is_quarantined_with_its_line_column_and_rule(ingested):
    result, con = ingested
    assert quarantined(result, "master/price_list.csv") == {
        (4, "sku", "unknown_sku"),
        (5, "list_price", "price_range"),
        (6, "valid_from", "future_date"),
        (7, "list_price", "type"),
    }
    rows = con.execute(
        "select sku, list_price, valid_from, line from raw.price_list order by line"
    ).fetchall()
    assert rows == [
        ("S1", 12.5, date(2024, 1, 1), 2),
        ("S1", 13.0, date(2024, 2, 1), 3),
        ("S2", 4.0, date(2024, 1, 15), 8),
    ]


def test_each_bad_supply_row_is_quarantined_with_its_line_column_and_rule(ingested):
    result, con = ingested
    assert quarantined(result, "master/supply.csv") == {
        (2, "sku, as_of", "duplicate_key"),
        (3, "available_qty", "qty_range"),
        (4, "available_qty", "not_null"),
        (5, "sku, as_of", "duplicate_key"),
    }
    rows = con.execute("select sku, available_qty, as_of from raw.supply").fetchall()
    assert rows == [("S2", 40.0, date(2024, 2, 27))]


def test_the_files_are_partial_and_every_row_is_counted(ingested):
    result, _ = ingested
    entries = {entry["path"]: entry for entry in result.files}
    for path, read, accepted in (("master/price_list.csv", 7, 3), ("master/supply.csv", 5, 1)):
        entry = entries[path]
        assert entry["status"] == "partial", entry
        assert (entry["rows_read"], entry["rows_accepted"]) == (read, accepted), entry
        assert entry["rows_quarantined"] == read - accepted
    assert result.rows_accepted["price_list"] == 3 and result.rows_accepted["supply"] == 1
