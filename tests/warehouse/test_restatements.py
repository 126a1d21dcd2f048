"""warehouse.restatements: the SKUs a restating delivery leaves out of a dealer-day, checked
against the restatement rule recomputed in pandas from a hand-made raw table."""

from __future__ import annotations

from datetime import date

import pandas as pd

from landing.schema import raw_tables
from warehouse import connect, ensure_tables
from warehouse.raw import insert_frame
from warehouse.restatements import MAX_LISTED_SKUS, partial_restatements

DAY1, DAY2, DAY3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)


def delivery(seq: int, run_id: str, source_file: str, rows: list[tuple]) -> pd.DataFrame:
    """Raw sell-through rows of one delivery: (dealer_id, sku, date) each, qty 1."""
    frame = pd.DataFrame(rows, columns=["dealer_id", "sku", "date"])
    return frame.assign(
        qty_sold=1.0,
        source_file=source_file,
        delivery_seq=seq,
        run_id=run_id,
        line=range(2, len(frame) + 2),
    )


def raw_two_deliveries() -> pd.DataFrame:
    first = delivery(
        1,
        "night1",
        "sell_through/D1_2026-10.csv",
        [("D1", s, DAY1) for s in ("S1", "S2", "S3", "S4")]
        + [("D1", s, DAY2) for s in ("S1", "S2")]
        + [("D1", "S1", DAY3)]
        + [("D2", s, DAY1) for s in ("S1", "S2")],
    )
    second = delivery(
        2,
        "night2",
        "sell_through/D1_2026-10_v2.csv",
        # DAY1: S2 and S4 left out. DAY2: S1 swapped for S5 (same count, S1 still gone).
        # DAY3: a SKU added, none dropped. D2 is not restated.
        [("D1", s, DAY1) for s in ("S1", "S3")]
        + [("D1", s, DAY2) for s in ("S2", "S5")]
        + [("D1", s, DAY3) for s in ("S1", "S6")],
    )
    return pd.concat([first, second], ignore_index=True)


def expected_drops(raw: pd.DataFrame, run_id: str) -> dict[tuple, list[str]]:
    """Per (file, dealer, day) of `run_id`: the SKUs of the delivery it replaces that it lacks."""
    drops = {}
    mine = raw[raw["run_id"] == run_id]
    for (seq, file, dealer, day), rows in mine.groupby(
        ["delivery_seq", "source_file", "dealer_id", "date"]
    ):
        earlier = raw[
            (raw["dealer_id"] == dealer) & (raw["date"] == day) & (raw["delivery_seq"] < seq)
        ]
        if earlier.empty:
            continue
        replaced = earlier[earlier["delivery_seq"] == earlier["delivery_seq"].max()]
        gone = sorted(set(replaced["sku"]) - set(rows["sku"]))
        if gone:
            drops[(file, dealer, day.isoformat())] = gone
    return drops


def warehouse_with(tmp_path, raw: pd.DataFrame):
    con = connect(tmp_path / "wh.duckdb")
    ensure_tables(con, "raw", raw_tables())
    insert_frame(con, "raw.sell_through", raw)
    return con


def test_dropped_skus_equal_the_restatement_rule_in_pandas(tmp_path):
    raw = raw_two_deliveries()
    with warehouse_with(tmp_path, raw) as con:
        found = partial_restatements(con, "night2")
        assert partial_restatements(con, "night1") == []  # nothing earlier to replace

    expected = expected_drops(raw, "night2")
    assert expected == {
        ("sell_through/D1_2026-10_v2.csv", "D1", "2026-10-01"): ["S2", "S4"],
        ("sell_through/D1_2026-10_v2.csv", "D1", "2026-10-02"): ["S1"],
    }
    assert {(e["file"], e["dealer_id"], e["date"]): e["dropped_skus"] for e in found} == expected
    day1 = found[0]
    assert day1 == {
        "file": "sell_through/D1_2026-10_v2.csv",
        "dealer_id": "D1",
        "date": "2026-10-01",
        "previous_file": "sell_through/D1_2026-10.csv",
        "skus_previous": 4,
        "skus_delivered": 2,
        "skus_dropped": 2,
        "dropped_skus": ["S2", "S4"],
    }


def test_a_third_delivery_is_compared_with_the_one_it_replaces_and_lists_are_capped(tmp_path):
    many = [f"S{i:03d}" for i in range(MAX_LISTED_SKUS + 7)]
    raw = pd.concat(
        [
            delivery(1, "night1", "a.csv", [("D1", s, DAY1) for s in many]),
            delivery(2, "night1", "b.csv", [("D1", s, DAY1) for s in many[:-1]]),
            delivery(3, "night2", "c.csv", [("D1", many[0], DAY1)]),
        ],
        ignore_index=True,
    )
    with warehouse_with(tmp_path, raw) as con:
        night1 = partial_restatements(con, "night1")
        night2 = partial_restatements(con, "night2")

    # Within one run too: b.csv restated a.csv's day without its last SKU.
    assert [(e["file"], e["previous_file"], e["dropped_skus"]) for e in night1] == [
        ("b.csv", "a.csv", [many[-1]])
    ]
    # c.csv replaces b.csv (not a.csv): the SKU b.csv already dropped is not counted again.
    (entry,) = night2
    assert entry["previous_file"] == "b.csv"
    assert (
        entry["skus_dropped"]
        == len(many) - 2
        == len(expected_drops(raw, "night2")[("c.csv", "D1", "2026-10-01")])
    )
    assert entry["dropped_skus"] == sorted(many[1:-1])[:MAX_LISTED_SKUS]


def test_no_sell_through_table_means_no_restatements(tmp_path):
    with connect(tmp_path / "wh.duckdb") as con:
        assert partial_restatements(con, "any") == []
