"""Row rules: type coercion and the Great Expectations suites (expectations/gx/expectations)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from landing.ingest import ingest_landing
from landing.schema import FEEDS, SELL_THROUGH, SHIPMENTS
from landing.validate import coerce, first_failures, load_suite, validate_frame

AS_OF = date(2024, 3, 1)
SUITES = Path(__file__).resolve().parents[2] / "expectations" / "gx" / "expectations"


def strings(**columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(columns, dtype=object)
    frame.index = range(2, 2 + len(frame))  # file lines, header = line 1
    return frame


def failures_of(frame_failures: pd.DataFrame) -> list[tuple[int, str, str]]:
    return sorted(
        (int(row), rule, column)
        for row, rule, column in frame_failures[["row", "rule", "column"]].itertuples(index=False)
    )


# --- coercion --------------------------------------------------------------------------------


def test_numbers_accept_plain_signed_exponent_and_thousands_only():
    raw = [
        "3",
        " -2.5 ",
        "1e3",
        "1,234",
        "1,234,567.5",
        "+.5",
        "12,34",
        "NaN",
        "inf",
        "-Infinity",
        "1e400",
        "3 units",
        "",
        "0x10",
    ]
    typed, failures = coerce(
        SELL_THROUGH,
        strings(
            dealer_id=["D1"] * len(raw),
            sku=["S1"] * len(raw),
            date=["2024-01-05"] * len(raw),
            qty_sold=raw,
        ),
    )
    expected = [3.0, -2.5, 1000.0, 1234.0, 1234567.5, 0.5] + [np.nan] * 8
    np.testing.assert_array_equal(typed["qty_sold"].to_numpy(), np.array(expected))
    # Every non-empty value that is not a finite number is a type failure; empty is just null.
    bad_lines = [line for line, value in zip(range(2, 16), raw, strict=True) if value][6:]
    assert failures_of(failures) == [(line, "type", "qty_sold") for line in bad_lines]


def test_dates_accept_iso_slash_compact_and_excel_midnight():
    raw = [
        "2024-01-05",
        "2024/01/06",
        "20240107",
        "2024-01-08 00:00:00",
        "2024-02-30",
        "05/01/2024",
        "Jan 5",
        "",
    ]
    typed, failures = coerce(
        SELL_THROUGH, strings(dealer_id=["D1"] * 8, sku=["S1"] * 8, date=raw, qty_sold=["1"] * 8)
    )
    as_dates = [None if pd.isna(v) else v.date() for v in typed["date"]]
    assert as_dates == [
        date(2024, 1, 5),
        date(2024, 1, 6),
        date(2024, 1, 7),
        date(2024, 1, 8),
        None,
        None,
        None,
        None,
    ]
    assert failures_of(failures) == [(6, "type", "date"), (7, "type", "date"), (8, "type", "date")]


def test_integers_booleans_and_trimmed_strings():
    from landing.schema import DEALER_SKUS, DEALERS

    typed, failures = coerce(
        DEALERS,
        strings(
            dealer_id=[" D1 ", "D2", "D3"],
            dealer_name=["a", "b", "c"],
            region=["r"] * 3,
            territory=["t"] * 3,
            lead_time_days=["7", "7", "7"],
            lead_time_sd_days=["1", "", "1"],
            review_period_days=["7", "7.0", "7.5"],
        ),
    )
    assert typed["dealer_id"].tolist() == ["D1", "D2", "D3"]
    assert typed["review_period_days"].tolist()[:2] == [7, 7]
    assert pd.isna(typed["lead_time_sd_days"].iloc[1])
    assert failures_of(failures) == [(4, "type", "review_period_days")]
    typed, failures = coerce(
        DEALER_SKUS,
        strings(dealer_id=["D1"] * 5, sku=["S1"] * 5, active=["TRUE", "no", "1", "", "maybe"]),
    )
    assert typed["active"].tolist()[:3] == [True, False, True]
    assert pd.isna(typed["active"].iloc[3])
    assert failures_of(failures) == [(6, "type", "active")]
    # Optional columns absent from the file come out as all-null columns.
    assert typed["service_level"].isna().all()


# --- suites ----------------------------------------------------------------------------------


def test_every_feed_has_a_committed_suite_whose_rules_are_named():
    for feed in FEEDS:
        document = json.loads((SUITES / f"{feed.name}.json").read_text())
        assert document["name"] == feed.name
        suite = load_suite(feed.name)
        assert len(suite.expectations) == len(document["expectations"]) > 0
        for expectation in suite.expectations:
            assert expectation.meta.get("rule"), expectation
            columns = (
                [expectation.column]
                if hasattr(expectation, "column")
                else getattr(expectation, "column_list", None)
                or [expectation.column_A, expectation.column_B]
            )
            assert set(columns) <= {*feed.column_names, "source_file"}, expectation


def sales_frame(**overrides) -> pd.DataFrame:
    base = dict(dealer_id=["D1"], sku=["S1"], date=["2024-01-05"], qty_sold=["1"])
    n = max(len(v) for v in overrides.values()) if overrides else 1
    columns = {key: (overrides.get(key) or value * n) for key, value in base.items()}
    columns.update({k: v for k, v in overrides.items() if k not in base})
    typed, type_failures = coerce(SELL_THROUGH, strings(**columns))
    assert type_failures.empty
    return typed.assign(source_file="f.csv")


def validate_sales(frame, known_dealers=("D1", "D2"), known_skus=("S1", "S2")):
    return validate_frame(
        SELL_THROUGH, frame, known_dealers=known_dealers, known_skus=known_skus, as_of=AS_OF
    )


def test_sell_through_ranges_returns_and_prices():
    frame = sales_frame(
        qty_sold=["-1000", "-1001", "100000", "100001", "0", "5", "5"],
        unit_price=["", "", "", "", "", "0", "-1"],
        date=[f"2024-01-{day:02d}" for day in range(1, 8)],
    )
    assert failures_of(validate_sales(frame)) == [
        (3, "qty_range", "qty_sold"),
        (5, "qty_range", "qty_sold"),
        (7, "price_range", "unit_price"),
        (8, "price_range", "unit_price"),
    ]


def test_dates_after_as_of_or_older_than_ten_years():
    frame = sales_frame(
        date=["2024-03-01", "2024-03-02", "2014-03-01", "2014-02-28"], sku=["S1", "S2", "S1", "S2"]
    )
    assert failures_of(validate_sales(frame)) == [
        (3, "future_date", "date"),
        (5, "too_old", "date"),
    ]


def test_today_bounds_dates_when_as_of_is_none():
    tomorrow = (pd.Timestamp.today().normalize() + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    today = pd.Timestamp.today().strftime("%Y-%m-%d")
    frame = sales_frame(date=[today, tomorrow])
    result = validate_frame(
        SELL_THROUGH, frame, known_dealers=["D1"], known_skus=["S1"], as_of=None
    )
    assert failures_of(result) == [(3, "future_date", "date")]


def test_unknown_dealer_and_sku_against_master_lists():
    frame = sales_frame(
        dealer_id=["D1", "D7", "D1"],
        sku=["S1", "S1", "S8"],
        date=["2024-01-01", "2024-01-02", "2024-01-03"],
    )
    assert failures_of(validate_sales(frame)) == [
        (3, "unknown_dealer", "dealer_id"),
        (4, "unknown_sku", "sku"),
    ]
    # No master data known at all: the membership rules are skipped, not failed.
    skipped = validate_frame(SELL_THROUGH, frame, known_dealers=None, known_skus=None, as_of=AS_OF)
    assert skipped.empty


def test_duplicate_keys_within_one_delivery_but_not_across_files():
    frame = sales_frame(
        dealer_id=["D1", "D1", "D1"], sku=["S1", "S1", "S2"], date=["2024-01-05"] * 3
    )
    frame["source_file"] = ["a.csv", "a.csv", "a.csv"]
    assert failures_of(validate_sales(frame)) == [
        (2, "duplicate_key", "dealer_id, sku, date"),
        (3, "duplicate_key", "dealer_id, sku, date"),
    ]
    frame["source_file"] = ["a.csv", "b.csv", "a.csv"]
    assert validate_sales(frame).empty


def test_long_ids_are_rejected_per_row():
    frame = sales_frame(dealer_id=["D1", "D" * 201], sku=["S1", "S1"])
    result = validate_frame(SELL_THROUGH, frame, known_dealers=None, known_skus=None, as_of=AS_OF)
    assert failures_of(result) == [(3, "too_long", "dealer_id")]


def test_shipment_date_order_and_quantity():
    typed, type_failures = coerce(
        SHIPMENTS,
        strings(
            shipment_id=["A", "B", "C", "D", "E"],
            dealer_id=["D1"] * 5,
            sku=["S1"] * 5,
            ship_date=["2024-01-10"] * 5,
            expected_date=["2024-01-15", "2024-01-09", "2024-01-10", "", "2024-01-20"],
            received_date=["", "", "2024-01-09", "2024-01-12", "2024-01-16"],
            qty=["5", "5", "5", "0", "5"],
        ),
    )
    assert type_failures.empty
    result = validate_frame(
        SHIPMENTS,
        typed.assign(source_file="s.csv"),
        known_dealers=["D1"],
        known_skus=["S1"],
        as_of=AS_OF,
    )
    assert failures_of(result) == [
        (3, "date_order", "expected_date"),
        (4, "date_order", "received_date"),
        (5, "qty_range", "qty"),
    ]


def test_first_rule_wins_for_a_row_breaking_several():
    frame = sales_frame(dealer_id=["D7"], sku=["S9"], qty_sold=["-5000"], date=["2031-01-01"])
    every = validate_sales(frame)
    assert {rule for _, rule, _ in failures_of(every)} == {
        "unknown_dealer",
        "unknown_sku",
        "qty_range",
        "future_date",
    }
    assert failures_of(first_failures(every)) == [(2, "unknown_dealer", "dealer_id")]


# --- end to end through ingest -----------------------------------------------------------------


def test_quarantine_rows_carry_rule_line_value_and_original_record(tmp_path):
    landing = tmp_path / "landing"
    (landing / "master").mkdir(parents=True)
    (landing / "sell_through").mkdir()
    (landing / "master" / "dealers.csv").write_text(
        "dealer_id,dealer_name,region,territory,lead_time_days,lead_time_sd_days,"
        "review_period_days\nD1,One,N,T,7,1,7\n"
    )
    (landing / "master" / "skus.csv").write_text(
        "sku,description,category,unit_cost,pack_size,moq\nS1,W,c,1,1,0\n"
    )
    long_sku = "S" * 250
    (landing / "sell_through" / "f.csv").write_text(
        "dealer_id,sku,date,qty_sold,unit_price\n"
        "D1,S1,2024-01-05,3,\n"  # 2 ok
        "D1,S1,2024-01-06,inf,\n"  # 3 type
        f"D1,{long_sku},2024-01-06,1,\n"  # 4 too_long
        "D2,S1,2024-01-06,1,\n"  # 5 unknown dealer
        "D1,S1,2024-09-06,1,\n"  # 6 future
        ",S1,2024-01-07,1,\n"  # 7 not_null
        "D1,S1,2024-01-08,1e308,\n"  # 8 huge -> qty_range
    )
    con = duckdb.connect()
    result = ingest_landing(landing, con, run_id="r1", as_of=AS_OF)
    entry = result.files[-1]
    assert (
        entry["status"],
        entry["rows_read"],
        entry["rows_accepted"],
        entry["rows_quarantined"],
    ) == ("partial", 7, 1, 6)
    quarantine = result.quarantine
    assert list(quarantine.columns) == [
        "run_id",
        "source_file",
        "line",
        "rule",
        "column",
        "value",
        "raw_record",
    ]
    got = list(quarantine[["line", "rule", "column", "value"]].itertuples(index=False, name=None))
    assert sorted(got) == [
        (3, "type", "qty_sold", "inf"),
        (4, "too_long", "sku", long_sku),
        (5, "unknown_dealer", "dealer_id", "D2"),
        (6, "future_date", "date", "2024-09-06"),
        (7, "not_null", "dealer_id", ""),
        (8, "qty_range", "qty_sold", "1e308"),
    ]
    record = json.loads(quarantine.set_index("line").loc[7, "raw_record"])
    assert record == {
        "dealer_id": "",
        "sku": "S1",
        "date": "2024-01-07",
        "qty_sold": "1",
        "unit_price": "",
    }
    stored = con.execute("select count(*), min(source_file) from raw.quarantine").fetchall()
    assert stored == [(6, "sell_through/f.csv")]


def test_file_whose_rows_all_fail_is_rejected_but_counted(tmp_path):
    landing = tmp_path / "landing"
    (landing / "inventory").mkdir(parents=True)
    (landing / "inventory" / "i.csv").write_text(
        "dealer_id,sku,snapshot_date,on_hand\nD1,S1,2024-01-05,-1\nD1,S2,2024-01-05,-3\n"
    )
    con = duckdb.connect()
    result = ingest_landing(landing, con, run_id="r1", as_of=AS_OF)
    entry = result.files[0]
    assert (entry["status"], entry["rows_read"], entry["rows_quarantined"]) == ("rejected", 2, 2)
    assert entry["reason"] == "all 2 rows quarantined (on_hand_range: 2)"
    assert result.warnings  # no master data: membership rules skipped, and said so
    ledger = con.execute("select status, delivery_seq from raw.file_ledger").fetchall()
    assert ledger == [("rejected", None)]


def test_data_docs_render_every_suite(tmp_path):
    import shutil

    from landing.validate import PROJECT_ROOT, build_data_docs

    project = tmp_path / "expectations"
    shutil.copytree(PROJECT_ROOT, project, ignore=shutil.ignore_patterns("uncommitted"))
    index = build_data_docs(project_root=project)
    assert index == project / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    pages = {page.stem for page in (index.parent / "expectations").glob("*.html")}
    assert pages == {feed.name for feed in FEEDS}


def test_master_suites_check_ranges_uniqueness_and_membership():
    from landing.schema import DEALER_SKUS, DEALERS, SKUS

    def run(feed, known_dealers=None, known_skus=None, **columns):
        typed, type_failures = coerce(feed, strings(**columns))
        assert type_failures.empty
        return failures_of(
            validate_frame(
                feed,
                typed.assign(source_file="m.csv"),
                known_dealers=known_dealers,
                known_skus=known_skus,
                as_of=AS_OF,
            )
        )

    assert run(
        DEALERS,
        dealer_id=["D1", "D2", "D2", "D4"],
        dealer_name=["a"] * 4,
        region=["r"] * 4,
        territory=["t"] * 4,
        lead_time_days=["7", "400", "7", "7"],
        lead_time_sd_days=["1", "1", "1", "-1"],
        review_period_days=["7", "7", "7", "0"],
    ) == [
        (3, "duplicate_key", "dealer_id"),
        (3, "lead_time_range", "lead_time_days"),
        (4, "duplicate_key", "dealer_id"),
        (5, "lead_time_range", "lead_time_sd_days"),
        (5, "review_period_range", "review_period_days"),
    ]
    assert run(
        SKUS,
        sku=["S1", "S2", "S3"],
        description=["d"] * 3,
        category=["c"] * 3,
        unit_cost=["1", "1", "1"],
        pack_size=["6", "0", "1"],
        moq=["0", "0", "0"],
        abc_class=["A", "", "Z"],
    ) == [(3, "pack_size_range", "pack_size"), (4, "abc_class", "abc_class")]
    assert run(
        DEALER_SKUS,
        known_dealers=["D1"],
        known_skus=["S1", "S2"],
        dealer_id=["D1", "D1", "D9"],
        sku=["S1", "S2", "S1"],
        service_level=["0.95", "1", ""],
        min_qty=["2", "5", ""],
        max_qty=["10", "4", ""],
    ) == [
        (3, "min_max_order", "max_qty"),
        (3, "service_level_range", "service_level"),
        (4, "unknown_dealer", "dealer_id"),
    ]
