"""The dbt project end to end: a hand-made warehouse, real `dbt build`, marts checked by hand.

The world (as_of = 2024-03-20, a Wednesday; weeks start on Monday):

- dealers D1 (territory NORTH, lead time 10 +- 2 days), D2 (SOUTH, 8 +- 1), D3 (EAST, never
  reports); SKUs A..F.
- D1 restates 2024-03-12: the first delivery had A=1 and C=5, the second has A=6 only.
- D1 A has a zero snapshot on Sunday 2024-03-10 and a receipt on 2024-03-12.
- An approval of 10 D1 B units for as-of 2024-03-06 and a later 4-unit shipment.
- D2 A has one shipment in transit and one received after its latest snapshot.

Every expected number below is worked out by hand from these rows, in the comments.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from landing.schema import raw_tables
from replenishment.policy import SUGGESTION_COLUMNS
from warehouse import connect, ensure_tables
from warehouse.connection import release_duckdb

pytestmark = pytest.mark.slow

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
AS_OF = "2024-03-20"
LOADED_AT = dt.datetime(2024, 3, 20, 23, 0)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# --- the hand-made raw data -------------------------------------------------------------------

DEALERS = [
    # dealer_id, dealer_name, region, territory, lead_time_days, lead_time_sd_days, review
    ("D1", "North Tractors", "N", "NORTH", 10.0, 2.0, 7),
    ("D2", "South Farm", "S", "SOUTH", 8.0, 1.0, 7),
    ("D3", "East Parts", "E", "EAST", 7.0, 1.0, 14),
]
SKUS = [
    # sku, description, category, unit_cost, pack_size, moq, abc_class
    ("A", "filter", "parts", 10.0, 1, 1, None),
    ("B", "belt", "parts", 2.0, 1, 1, None),
    ("C", "bolt", "parts", 1.0, 1, 1, None),
    ("D", "blade", "parts", 5.0, 1, 1, "A"),  # master class wins over the derived one
    ("E", "oil", "fluids", 1.0, 1, 1, None),
    ("F", "grease", "fluids", 1.0, 1, 1, ""),  # empty string = derive it
]
DEALER_SKUS = [
    # dealer_id, sku, service_level, min_qty, max_qty, active
    ("D3", "A", 0.99, None, None, True),  # listed, never sold: still active
    ("D2", "D", None, None, None, False),  # switched off by the master
]
# (delivery_seq, dealer_id, sku, date, qty_sold, unit_price, customer_region)
SELL_THROUGH = [
    (1, "D1", "A", "2024-02-26", 2, 10.0, "NORTH"),
    (1, "D1", "A", "2024-03-05", 3, 10.0, "NORTH"),
    (1, "D1", "B", "2024-03-06", 4, 3.0, "NORTH"),
    (1, "D1", "A", "2024-03-12", 1, 10.0, "NORTH"),  # restated away below
    (1, "D1", "C", "2024-03-12", 5, 50.0, "WEST"),  # removed by the restatement
    (1, "D1", "A", "2024-03-13", -1, 10.0, "NORTH"),  # a return
    (1, "D1", "A", "2024-03-19", 2, 10.0, "NORTH"),
    (1, "D1", "E", "2023-01-10", 100, 1.0, None),  # older than a year
    (1, "D2", "A", "2024-02-27", 1, 12.0, "NORTH"),  # cross-territory and +20 % price
    (1, "D2", "A", "2024-03-07", 1, 10.0, "SOUTH"),
    (1, "D2", "B", "2024-03-01", 10, 3.0, None),
    (1, "D2", "C", "2024-03-08", 12, 1.0, "SOUTH"),
    (1, "D2", "D", "2024-03-09", 2, 5.0, "SOUTH"),
    (2, "D1", "A", "2024-03-12", 6, 10.0, "NORTH"),  # the restatement of D1's 2024-03-12
]
# (delivery_seq, dealer_id, sku, snapshot_date, on_hand)
INVENTORY = [
    (1, "D1", "A", "2024-03-03", 5),
    (1, "D1", "A", "2024-03-10", 0),
    (1, "D1", "A", "2024-03-17", 4),
    (1, "D1", "A", "2024-03-20", 2),
    (2, "D1", "A", "2024-03-20", 1),  # restated count
    (1, "D1", "B", "2024-03-17", 6),
    (1, "D1", "B", "2024-03-20", 6),
    (1, "D1", "F", "2024-03-17", 3),  # stocked, never sold
    (1, "D1", "F", "2024-03-20", 3),
    (1, "D2", "A", "2024-03-17", 3),  # D2 A sends no 03-20 count
    (1, "D2", "B", "2024-03-20", 1),
    (1, "D2", "C", "2024-03-20", 0),
    (1, "D2", "D", "2024-03-20", 2),
]
# (delivery_seq, shipment_id, dealer_id, sku, ship_date, expected_date, received_date, qty)
SHIPMENTS = [
    (1, "SH1", "D1", "A", "2024-03-05", "2024-03-12", "2024-03-12", 5),  # lead time 7
    (1, "SH2", "D1", "B", "2024-02-20", "2024-02-29", None, 6),
    (2, "SH2", "D1", "B", "2024-02-20", "2024-02-29", "2024-02-29", 6),  # lead time 9
    (1, "SH7", "D1", "B", "2024-03-13", "2024-03-16", "2024-03-16", 4),  # lead time 3
    (1, "SH3", "D2", "A", "2024-03-18", "2024-03-25", None, 4),  # in transit
    (1, "SH5", "D2", "A", "2024-03-14", "2024-03-19", "2024-03-19", 2),  # after last count
    (1, "SH6", "D2", "B", "2024-03-22", "2024-03-29", None, 9),  # ships after as_of
]
# (approval_id, as_of, dealer_id, sku, approved_qty, is_held)
APPROVED_LINES = [
    ("AP1", "2024-03-06", "D1", "B", 10, False),
    ("AP2", "2024-03-06", "D2", "A", 5, True),  # held: never on order
    ("AP3", "2024-03-20", "D1", "A", 7, False),  # today's own approval: not yet
]


def lineage(seq: int, line: int) -> tuple:
    return (f"sha{seq}", f"landing/feed-{seq}.csv", line, seq, f"run{seq}", LOADED_AT)


def load_world(path: Path) -> None:
    """Create a warehouse at `path` holding the hand-made world above."""
    con = connect(path)
    # The raw feed tables a load creates, from landing's feed schema (the one definition).
    ensure_tables(con, "raw", raw_tables())
    try:
        con.executemany(
            "insert into raw.dealers values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row + (None,) + lineage(1, i + 2) for i, row in enumerate(DEALERS)],  # tier empty
        )
        con.executemany(
            "insert into raw.skus values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row + lineage(1, i + 2) for i, row in enumerate(SKUS)],
        )
        con.executemany(
            "insert into raw.dealer_skus values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row + lineage(1, i + 2) for i, row in enumerate(DEALER_SKUS)],
        )
        con.executemany(
            "insert into raw.sell_through values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (dealer, sku, d(day), qty, price, region) + lineage(seq, i + 2)
                for i, (seq, dealer, sku, day, qty, price, region) in enumerate(SELL_THROUGH)
            ],
        )
        con.executemany(
            "insert into raw.inventory values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (dealer, sku, d(day), on_hand) + lineage(seq, i + 2)
                for i, (seq, dealer, sku, day, on_hand) in enumerate(INVENTORY)
            ],
        )
        con.executemany(
            "insert into raw.shipments values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (sid, dealer, sku, d(ship), d(exp), d(rec) if rec else None, qty)
                + lineage(seq, i + 2)
                for i, (seq, sid, dealer, sku, ship, exp, rec, qty) in enumerate(SHIPMENTS)
            ],
        )
        con.executemany(
            "insert into raw.approved_lines values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    aid,
                    "run-old",
                    d(as_of),
                    dealer,
                    sku,
                    qty,
                    qty,
                    held,
                    None,
                    "planner",
                    dt.datetime.combine(d(as_of), dt.time(9)),
                )
                for aid, as_of, dealer, sku, qty, held in APPROVED_LINES
            ],
        )
    finally:
        con.close()


# --- running dbt ------------------------------------------------------------------------------


@contextmanager
def dbt_env(warehouse: Path, work: Path) -> Iterator[None]:
    """Point the profile at `warehouse`; keep dbt's logs out of the repository.

    DBT_LOG_PATH as well as --log-path: a run that fails while parsing logs before flags apply.
    """
    wanted = {"VMI_WAREHOUSE": str(warehouse), "DBT_LOG_PATH": str(work / "logs")}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_dbt(
    args: list[str],
    warehouse: Path,
    work: Path,
    vars_: dict | None = None,
    *,
    project: Path = PROJECT_DIR,
):
    """Invoke real dbt in-process against `warehouse`; target and logs stay under `work`.

    dbt's own partial parsing carries over between invocations with the same project, vars and
    warehouse path (dbt checks all three: the path is the profile's), as it does for a developer
    rerunning dbt: the parse saved by the last such invocation is put into the target folder
    first (PARSED), also when an invocation with other vars came in between. A full parse costs
    several seconds, a build of the tiny test worlds hardly more."""
    from dbt.cli.main import dbtRunner

    saved_parse = work / "target" / "partial_parse.msgpack"
    key = json.dumps([str(project), str(warehouse), vars_], sort_keys=True)
    if key in PARSED:
        saved_parse.parent.mkdir(parents=True, exist_ok=True)
        saved_parse.write_bytes(PARSED[key])
    cli = [
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]
    if vars_ is not None:
        cli += ["--vars", json.dumps(vars_)]
    with dbt_env(warehouse, work):
        try:
            return dbtRunner().invoke(cli)
        finally:
            release_duckdb()
            if saved_parse.is_file():
                PARSED[key] = saved_parse.read_bytes()


PARSED: dict[str, bytes] = {}  # dbt's partial_parse.msgpack by project, warehouse and vars


def failed_nodes(result) -> list[str]:
    return [r.node.name for r in result.result.results if str(r.status) in ("error", "fail")]


def core_built_once(make_once) -> Path:
    """One warehouse with the world loaded and `dbt build --selector core` run on it, made once
    per session for this file and test_reporting_views.py (tests/conftest.py `make_once`, the
    same build for both): read it only, copy it to write to it."""

    def make(work: Path) -> str:
        warehouse = work / "warehouse.duckdb"
        load_world(warehouse)
        result = run_dbt(["build", "--selector", "core"], warehouse, work, {"as_of": AS_OF})
        assert result.success, failed_nodes(result) if result.result else result.exception
        return ""

    return make_once("handmade-core", make) / "warehouse.duckdb"


@pytest.fixture(scope="module")
def built(make_once) -> Path:
    """The hand-made world built by `dbt build --selector core` (`core_built_once`)."""
    return core_built_once(make_once)


def rows(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def as_dict(warehouse: Path, sql: str) -> dict:
    """First column(s) -> last column; keys of one column are unwrapped."""
    out = {}
    for row in rows(warehouse, sql):
        key = row[0] if len(row) == 2 else tuple(row[:-1])
        out[key] = row[-1]
    return out


# --- restatements -----------------------------------------------------------------------------


def test_restated_dealer_day_wins_and_earlier_delivery_stays_in_raw(built):
    daily = as_dict(
        built,
        "select sku, qty_sold from marts.fct_daily_demand "
        "where dealer_id = 'D1' and date = '2024-03-12'",
    )
    # Delivery 2 says A=6 and nothing else; C (only in delivery 1) is gone for that day.
    assert daily == {"A": 6.0, "B": 0.0}
    assert rows(built, "select count(*) from raw.sell_through where date = '2024-03-12'") == [(3,)]
    # The removed sale is neither demand, nor an exception, nor a reason to keep D1 x C active.
    assert rows(built, "select count(*) from marts.fct_sales_exceptions where sku = 'C'") == [(0,)]
    pairs = set(rows(built, "select dealer_id, sku from marts.dim_dealer_skus"))
    assert ("D1", "C") not in pairs


def test_restated_inventory_snapshot_wins(built):
    assert rows(
        built,
        "select on_hand, last_snapshot_date from marts.fct_inventory_position "
        "where dealer_id = 'D1' and sku = 'A'",
    ) == [(1.0, d("2024-03-20"))]


# --- active pairs -----------------------------------------------------------------------------


def test_active_pairs_follow_window_and_master(built):
    pairs = set(rows(built, "select dealer_id, sku from marts.dim_dealer_skus"))
    # D1 E sold only in 2023 (outside 365 days); D2 D is switched off; D3 A comes from the master.
    assert pairs == {
        ("D1", "A"),
        ("D1", "B"),
        ("D1", "F"),
        ("D2", "A"),
        ("D2", "B"),
        ("D2", "C"),
        ("D3", "A"),
    }
    assert rows(
        built,
        "select service_level, first_sale_date, last_sale_date from marts.dim_dealer_skus "
        "where dealer_id = 'D3'",
    ) == [(0.99, None, None)]
    assert rows(
        built,
        "select first_sale_date, last_sale_date from marts.dim_dealer_skus "
        "where dealer_id = 'D1' and sku = 'A'",
    ) == [(d("2024-02-26"), d("2024-03-19"))]


# --- demand -----------------------------------------------------------------------------------


def test_daily_demand_splits_returns_and_flags_stockout_days(built):
    day = rows(
        built,
        "select qty_sold, qty_returned, net_qty from marts.fct_daily_demand "
        "where dealer_id = 'D1' and sku = 'A' and date = '2024-03-13'",
    )
    assert day == [(0.0, 1.0, -1.0)]
    stockout = [
        r[0]
        for r in rows(
            built,
            "select date from marts.fct_daily_demand where is_stockout order by dealer_id, date",
        )
    ]
    # D1 A counted 0 on Sunday 03-10; nothing sold or received on 03-11; a receipt and a sale on
    # 03-12 end it. D2 C counted 0 on 03-20 (as_of).
    assert stockout == [d("2024-03-10"), d("2024-03-11"), d("2024-03-20")]
    # Zero-filled from the first activity (D1 A: first sale 2024-02-26) to as_of.
    assert rows(
        built,
        "select count(*), min(date), max(date) from marts.fct_daily_demand "
        "where dealer_id = 'D1' and sku = 'A'",
    ) == [(24, d("2024-02-26"), d("2024-03-20"))]


def test_weekly_grid_is_zero_filled_complete_weeks_with_censoring(built):
    weekly = {
        (r[0], r[1], r[2]): r[3:]
        for r in rows(
            built,
            "select dealer_id, sku, week_start, qty_sold, stockout_days, is_censored "
            "from marts.fct_weekly_demand",
        )
    }
    # D1 A: weeks of 02-26, 03-04, 03-11; the week of 03-18 ends after as_of and is left out.
    # 03-04: 3 sold, zero count on its Sunday (03-10) -> censored, 1 stockout day (03-10).
    # 03-11: 6 sold (restated; the return is not negative demand); the zero count on the
    #        Sunday before it is its boundary -> censored, 1 stockout day (03-11).
    # 02-26: 2 sold + D2's sale of A into NORTH on 02-27, D1's territory (the channel rule).
    assert weekly[("D1", "A", d("2024-02-26"))] == (3.0, 0, False)
    assert weekly[("D1", "A", d("2024-03-04"))] == (3.0, 1, True)
    assert weekly[("D1", "A", d("2024-03-11"))] == (6.0, 1, True)
    # D1 B starts mid-week 03-04 (sold 4 on 03-06); 03-11 has no sale: a zero row, not a gap.
    assert weekly[("D1", "B", d("2024-03-04"))] == (4.0, 0, False)
    assert weekly[("D1", "B", d("2024-03-11"))] == (0.0, 0, False)
    assert not any(week == d("2024-03-18") for _, _, week in weekly)
    assert all(week.weekday() == 0 for _, _, week in weekly)
    # D3 A never had activity: no rows. D2 C's zero count is in an incomplete week: no effect.
    assert not any(dealer == "D3" for dealer, _, _ in weekly)
    assert weekly[("D2", "C", d("2024-03-04"))] == (12.0, 0, False)


# --- inventory position -----------------------------------------------------------------------


def test_inventory_position_on_order_and_in_transit(built):
    position = {
        (r[0], r[1]): r[2:]
        for r in rows(
            built,
            "select dealer_id, sku, on_hand, in_transit, on_order, backorders, "
            "inventory_position from marts.fct_inventory_position",
        )
    }
    # D1 B: approved 10 for as-of 03-06, 4 shipped on 03-13 -> 6 on order. The 02-20 shipment
    # left before the approval and covers nothing; SH7 was received (03-16) before the 03-20
    # count, so it is in on_hand, not in transit.
    assert position[("D1", "B")] == (6.0, 0.0, 6.0, 0.0, 12.0)
    # D2 A: SH3 not received (4) + SH5 received 03-19, after the 03-17 count (2); the held
    # approval is not on order.
    assert position[("D2", "A")] == (3.0, 6.0, 0.0, 0.0, 9.0)
    # D1 A: today's own approval (as_of 03-20) is not on order yet.
    assert position[("D1", "A")] == (1.0, 0.0, 0.0, 0.0, 1.0)
    # D2 B: the 03-22 shipment is after as_of.
    assert position[("D2", "B")] == (1.0, 0.0, 0.0, 0.0, 1.0)
    assert position[("D3", "A")] == (0.0, 0.0, 0.0, 0.0, 0.0)


def test_learned_lead_time_blends_with_master(built):
    dealers = {
        r[0]: r[1:]
        for r in rows(
            built,
            "select dealer_id, lead_time_receipts, lead_time_days_learned, "
            "lead_time_sd_days_learned, lead_time_days_used, lead_time_sd_days_used "
            "from marts.dim_dealers",
        )
    }
    # D1 receipts: SH1 7 days, SH2 9 days (its restated delivery), SH7 3 days; k = 5.
    leads = [7, 9, 3]
    mean, sd = statistics.mean(leads), statistics.stdev(leads)
    n, w = dealers["D1"][0], 3 / (3 + 5)
    assert n == 3
    assert dealers["D1"][1] == pytest.approx(mean)
    assert dealers["D1"][2] == pytest.approx(sd)
    assert dealers["D1"][3] == pytest.approx(w * mean + (1 - w) * 10.0)  # 69 / 8
    assert dealers["D1"][4] == pytest.approx(w * sd + (1 - w) * 2.0)
    # D2: one receipt (SH5, 5 days): mean blended 1/6, sd stays the master's.
    assert dealers["D2"][:3] == (1, 5.0, None)
    assert dealers["D2"][3] == pytest.approx((5.0 + 5 * 8.0) / 6)
    assert dealers["D2"][4] == pytest.approx(1.0)
    # D3: no receipts, master values.
    assert dealers["D3"] == (0, None, None, 7.0, 1.0)


def test_pair_lead_time_blends_its_own_receipts_with_the_dealers(built):
    pairs = {
        (r[0], r[1]): r[2:]
        for r in rows(
            built,
            "select dealer_id, sku, lead_time_receipts, lead_time_days_used, "
            "lead_time_sd_days_used from marts.dim_dealer_skus",
        )
    }
    k = 5
    d1_mean = 3 / 8 * statistics.mean([7, 9, 3]) + 5 / 8 * 10.0  # D1's blended lead time
    d1_sd = 3 / 8 * statistics.stdev([7, 9, 3]) + 5 / 8 * 2.0
    # D1 A: one receipt of 7 days -> mean moves 1/6 of the way; sd stays the dealer's.
    assert pairs[("D1", "A")][0] == 1
    assert pairs[("D1", "A")][1] == pytest.approx((1 * 7 + k * d1_mean) / (1 + k))
    assert pairs[("D1", "A")][2] == pytest.approx(d1_sd)
    # D1 B: receipts of 9 and 3 days: mean 6, sd stdev([9, 3]), weight 2/7.
    assert pairs[("D1", "B")][0] == 2
    assert pairs[("D1", "B")][1] == pytest.approx((2 * 6 + k * d1_mean) / (2 + k))
    assert pairs[("D1", "B")][2] == pytest.approx(
        (2 * statistics.stdev([9, 3]) + k * d1_sd) / (2 + k)
    )


# --- replenishment inputs ---------------------------------------------------------------------

# Each column of marts.fct_replenishment_inputs, in order, and the mart column it is taken from
# (the join replenishment/plan.py used to write in Python).
REPLENISHMENT_INPUTS: dict[str, tuple[str, str]] = {
    "dealer_id": ("fct_inventory_position", "dealer_id"),
    "sku": ("fct_inventory_position", "sku"),
    "dealer_name": ("dim_dealers", "dealer_name"),
    "region": ("dim_dealers", "region"),
    "category": ("dim_skus", "category"),
    "description": ("dim_skus", "description"),
    "abc_class": ("dim_skus", "abc_class"),
    "on_hand": ("fct_inventory_position", "on_hand"),
    "in_transit": ("fct_inventory_position", "in_transit"),
    "on_order": ("fct_inventory_position", "on_order"),
    "backorders": ("fct_inventory_position", "backorders"),
    "inventory_position": ("fct_inventory_position", "inventory_position"),
    "lead_time_days": ("dim_dealer_skus", "lead_time_days_used"),
    "lead_time_sd_days": ("dim_dealer_skus", "lead_time_sd_days_used"),
    "review_period_days": ("dim_dealers", "review_period_days"),
    "pack_size": ("dim_skus", "pack_size"),
    "moq": ("dim_skus", "moq"),
    "unit_cost": ("dim_skus", "unit_cost"),
    "service_level": ("dim_dealer_skus", "service_level"),
    "min_qty": ("dim_dealer_skus", "min_qty"),
    "max_qty": ("dim_dealer_skus", "max_qty"),
}


def frame(warehouse: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def test_replenishment_inputs_equal_an_independent_join(built):
    # Every column of each built table, prefixed with the table's name, joined in pandas.
    tables = {
        name: frame(built, f"select * from marts.{name}").add_prefix(f"{name}.")
        for name in ("fct_inventory_position", "dim_dealers", "dim_skus", "dim_dealer_skus")
    }
    pairs = tables["dim_dealer_skus"]
    joined = (
        tables["fct_inventory_position"]
        .merge(
            tables["dim_dealers"],
            left_on="fct_inventory_position.dealer_id",
            right_on="dim_dealers.dealer_id",
        )
        .merge(tables["dim_skus"], left_on="fct_inventory_position.sku", right_on="dim_skus.sku")
        .merge(
            pairs[pairs["dim_dealer_skus.is_active"]],
            left_on=["fct_inventory_position.dealer_id", "fct_inventory_position.sku"],
            right_on=["dim_dealer_skus.dealer_id", "dim_dealer_skus.sku"],
        )
    )
    expected = (
        pd.DataFrame(
            {
                column: joined[f"{table}.{source}"]
                for column, (table, source) in REPLENISHMENT_INPUTS.items()
            }
        )
        .sort_values(["dealer_id", "sku"])
        .reset_index(drop=True)
    )
    # How Python reads it.
    actual = frame(built, "select * from marts.fct_replenishment_inputs order by dealer_id, sku")
    assert list(actual.columns) == list(REPLENISHMENT_INPUTS)
    pd.testing.assert_frame_equal(actual, expected)

    # The seven active pairs, one row each. D3 A: listed in the master, never counted or sold;
    # D1 B: its own receipts (9 and 3 days) move its lead time off the dealer's.
    assert len(actual) == 7
    d3 = actual[actual["dealer_id"] == "D3"].iloc[0]
    assert (d3["sku"], d3["dealer_name"], d3["region"], d3["category"], d3["abc_class"]) == (
        "A",
        "East Parts",
        "E",
        "parts",
        "A",
    )
    assert (d3["on_hand"], d3["inventory_position"], d3["review_period_days"]) == (0.0, 0.0, 14)
    assert (d3["lead_time_days"], d3["lead_time_sd_days"], d3["service_level"]) == (7.0, 1.0, 0.99)
    d1_b = actual[(actual["dealer_id"] == "D1") & (actual["sku"] == "B")].iloc[0]
    d1_lead = rows(
        built, "select lead_time_days_used from marts.dim_dealers where dealer_id = 'D1'"
    )
    assert d1_b["lead_time_days"] != pytest.approx(d1_lead[0][0])
    assert d1_b["inventory_position"] == 12.0


def test_replenishment_inputs_keep_the_types_of_their_sources(built):
    types = {
        (table, column): data_type
        for table, column, data_type in rows(
            built,
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' order by table_name, ordinal_position",
        )
    }
    mart = [
        (column, data_type)
        for (table, column), data_type in types.items()
        if table == "fct_replenishment_inputs"
    ]
    assert mart == [(column, types[source]) for column, source in REPLENISHMENT_INPUTS.items()]


# --- skus -------------------------------------------------------------------------------------


def test_abc_class_derived_from_yearly_sales_value(built):
    skus = {
        r[0]: r[1:]
        for r in rows(
            built,
            "select sku, yearly_sales_value, abc_class, is_abc_class_derived, list_price "
            "from marts.dim_skus",
        )
    }
    # Yearly value (units in the 365 days to as_of x unit_cost), total 200:
    # A (2+3+6+2 + 1+1) x 10 = 150 -> cum 0.75 A; B 14 x 2 = 28 -> 0.89 B;
    # C 12 x 1 = 12 -> 0.95 B (the B bound is inclusive); D 2 x 5 = 10 -> 1.0 (master says A);
    # E (its 2023 sale is too old) and F: 0 -> C.
    assert {k: v[0] for k, v in skus.items()} == {
        "A": 150.0,
        "B": 28.0,
        "C": 12.0,
        "D": 10.0,
        "E": 0.0,
        "F": 0.0,
    }
    assert {k: v[1] for k, v in skus.items()} == {
        "A": "A",
        "B": "B",
        "C": "B",
        "D": "A",
        "E": "C",
        "F": "C",
    }
    assert skus["D"][2] is False and skus["A"][2] is True and skus["F"][2] is True
    # list price = median selling price: A sold at 10, 10, 10, 10, 12, 10 -> 10.
    assert skus["A"][3] == pytest.approx(10.0)


def test_sales_exceptions_cross_territory_and_price(built):
    exceptions = rows(
        built,
        "select dealer_id, sku, date, territory, customer_region, is_cross_territory, "
        "price_deviation_pct from marts.fct_sales_exceptions",
    )
    # D2 (SOUTH) sold A to a NORTH customer at 12 against a list price of 10: +20 %.
    assert len(exceptions) == 1
    dealer, sku, day, territory, region, cross, deviation = exceptions[0]
    assert (dealer, sku, day, territory, region, cross) == (
        "D2",
        "A",
        d("2024-02-27"),
        "SOUTH",
        "NORTH",
        True,
    )
    assert deviation == pytest.approx(20.0)


# --- freshness and KPIs -----------------------------------------------------------------------


def test_feed_freshness_days(built):
    freshness = {
        (r[0], r[1]): r[2:]
        for r in rows(
            built,
            "select dealer_id, feed, last_report_date, days_since_report "
            "from marts.fct_feed_freshness",
        )
    }
    assert freshness[("D1", "sell_through")] == (d("2024-03-19"), 1)
    assert freshness[("D1", "inventory")] == (d("2024-03-20"), 0)
    assert freshness[("D2", "sell_through")] == (d("2024-03-09"), 11)
    assert freshness[("D2", "inventory")] == (d("2024-03-20"), 0)
    assert freshness[("D3", "sell_through")] == (None, None)
    assert len(freshness) == 6


def test_dealer_kpis(built):
    kpis = {
        r[0]: r[1:]
        for r in rows(
            built,
            "select dealer_id, days_of_inventory, slow_moving_share, sell_through_rate, "
            "stockout_days from marts.fct_dealer_kpis",
        )
    }
    # D1: on hand A 1 + B 6 + F 3 = 10; sold in 90 (and 30) days A 13 + B 4 = 17; F never sold.
    assert kpis["D1"][0] == pytest.approx(10 / (17 / 90))
    assert kpis["D1"][1] == pytest.approx(3 / 10)
    assert kpis["D1"][2] == pytest.approx(17 / (17 + 10))
    assert kpis["D1"][3] == 2
    # D2 (D is inactive): on hand A 3 + B 1 + C 0 = 4; sold A 2 + B 10 + C 12 = 24.
    assert kpis["D2"][0] == pytest.approx(4 / (24 / 90))
    assert kpis["D2"][1] == pytest.approx(0.0)
    assert kpis["D2"][2] == pytest.approx(24 / 28)
    assert kpis["D2"][3] == 1
    assert kpis["D3"] == (None, None, None, 0)


# --- failures, defaults, reporting, docs --------------------------------------------------------


def test_negative_on_hand_fails_the_build(tmp_path):
    warehouse = tmp_path / "broken.duckdb"
    load_world(warehouse)
    con = connect(warehouse)
    con.execute(
        "insert into raw.inventory values ('D1', 'B', date '2024-03-18', -3, "
        "'sha9', 'x.csv', 2, 9, 'run9', timestamp '2024-03-20 23:00:00')"
    )
    con.close()
    result = run_dbt(["build", "--selector", "core"], warehouse, tmp_path, {"as_of": AS_OF})
    assert not result.success
    assert failed_nodes(result) == ["non_negative_stg_vmi__inventory_on_hand"]


def test_as_of_defaults_to_newest_feed_date_and_rejects_bad_dates(built, tmp_path):
    warehouse = tmp_path / "copied.duckdb"
    shutil.copy(built, warehouse)
    result = run_dbt(["run", "--select", "int_as_of_date"], warehouse, tmp_path)
    assert result.success
    assert rows(
        warehouse, "select as_of_date, is_as_of_from_var from intermediate.int_as_of_date"
    ) == [(d("2024-03-20"), False)]

    bad = run_dbt(
        ["compile", "--select", "int_as_of_date"], warehouse, tmp_path, {"as_of": "2024-02-30"}
    )
    assert not bad.success


def suggestion(run_id: str, as_of: str, dealer: str, sku: str, qty: float) -> tuple:
    numbers = (
        1.0,
        0.0,
        0.0,
        1.0,
        0.5,
        "smooth",
        "ets",
        8.0,
        1.0,
        7,
        15.0,
        7.5,
        2.0,
        0.95,
        1.645,
        3.3,
        10.8,
        9.8,
        1,
        1,
        qty,
        "because",
    )
    return (run_id, d(as_of), dealer, sku, *numbers)


def test_reporting_selector_builds_run_comparisons(built, tmp_path):
    warehouse = tmp_path / "with_pipeline.duckdb"
    shutil.copy(built, warehouse)
    con = connect(warehouse)
    con.executemany(
        "insert into pipeline.runs (run_id, as_of, status, started_at, finished_at, out_dir) "
        "values (?, ?, ?, ?, ?, ?)",
        [
            (
                "r1",
                d(AS_OF),
                "published",
                dt.datetime(2024, 3, 21, 1, 0),
                dt.datetime(2024, 3, 21, 1, 2),
                "out/r1",
            ),
            (
                "r2",
                d(AS_OF),
                "published",
                dt.datetime(2024, 3, 21, 2, 0),
                dt.datetime(2024, 3, 21, 2, 1, 30),
                "out/r2",
            ),
        ],
    )
    con.executemany(
        "insert into pipeline.stage_timings values (?, ?, ?, ?)",
        [("r2", "dbt", 4.5, 100), ("r2", "forecast", 20.0, 7)],
    )
    # r1 was superseded by the rerun r2 of the same as-of date.
    con.executemany(
        f"insert into pipeline.suggestions ({', '.join(SUGGESTION_COLUMNS)}) "
        f"values ({', '.join(['?'] * 26)})",
        [
            suggestion("r1", AS_OF, "D1", "A", 99.0),
            suggestion("r2", AS_OF, "D1", "A", 4.0),
            suggestion("r2", AS_OF, "D1", "B", 5.0),
        ],
    )
    con.executemany(
        "insert into pipeline.alerts values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("r2", d(AS_OF), "stockout", "critical", "D2", "C", 0.0, 0.0, "out of stock"),
            ("r2", d(AS_OF), "stale_feed", "warning", "D2", None, 11.0, 7.0, "stale"),
            ("r2", d(AS_OF), "stale_feed", "warning", "D3", None, None, 7.0, "never reported"),
        ],
    )
    con.executemany(
        "insert into pipeline.forecast_accuracy values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("r2", d(AS_OF), "D1", "A", "ets", "smooth", 0.8, 0.2, 0.1, 1.0, 52),
            ("r2", d(AS_OF), "D1", "B", "ets", "smooth", 1.2, 0.4, -0.3, 2.0, 52),
            ("r2", d(AS_OF), "D1", "F", "croston", "intermittent", 1.0, 0.9, 0.0, 0.5, 3),
        ],
    )
    con.close()

    result = run_dbt(["build", "--selector", "reporting"], warehouse, tmp_path)
    assert result.success, failed_nodes(result)

    # Latest run only; value = qty x unit_cost (A 10, B 2); category from dim_skus.
    assert rows(
        warehouse,
        "select run_id, sku, category, suggested_qty, suggested_value from "
        "reporting.rpt_suggestions order by sku",
    ) == [("r2", "A", "parts", 4.0, 40.0), ("r2", "B", "parts", 5.0, 10.0)]
    assert rows(
        warehouse,
        "select alert_type, severity, alert_count, dealer_count from "
        "reporting.rpt_alert_summary order by alert_type",
    ) == [("stale_feed", "warning", 2, 2), ("stockout", "critical", 1, 1)]
    accuracy = rows(
        warehouse,
        "select forecast_model, series_count, mean_mase, mean_wape, mean_bias, as_of_date "
        "from reporting.rpt_forecast_accuracy order by forecast_model",
    )
    assert accuracy[0][:2] == ("croston", 1)
    assert accuracy[1][:2] == ("ets", 2)
    assert accuracy[1][2:5] == pytest.approx((1.0, 0.3, -0.1))
    assert accuracy[1][5] == d(AS_OF)
    history = rows(
        warehouse,
        "select run_id, stage_name, stage_seconds, run_seconds from reporting.rpt_run_history "
        "order by run_id, stage_name",
    )
    assert history == [
        ("r1", None, None, 120),
        ("r2", "dbt", 4.5, 90),
        ("r2", "forecast", 20.0, 90),
    ]
    # Built without a run_id: the per-run KPI table exists, with its columns, and holds nothing.
    assert rows(warehouse, "select count(*) from reporting.rpt_dealer_kpis") == [(0,)]
    assert columns_of(warehouse, "reporting", "rpt_dealer_kpis") == RPT_DEALER_KPIS_COLUMNS


# --- dealer KPIs kept per run -----------------------------------------------------------------

RPT_DEALER_KPIS_COLUMNS = [
    "run_id",
    "dealer_id",
    "days_of_inventory",
    "slow_moving_share",
    "sell_through_rate",
    "stockout_days",
    "on_hand",
    "dealer_name",
    "region",
    "as_of_date",
]
DEALER_NAMES = {dealer: name for dealer, name, *_ in DEALERS}


def columns_of(warehouse: Path, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            warehouse,
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        )
    ]


def build_kpis(warehouse: Path, work: Path, run_id: str | None, **kwargs) -> None:
    """`dbt build` of the KPI history (its data and unit tests too) as a run would."""
    result = run_dbt(
        ["build", "--select", "fct_dealer_kpis_by_run"],
        warehouse,
        work,
        {"as_of": AS_OF, "run_id": run_id},
        **kwargs,
    )
    assert result.success, failed_nodes(result)


def kpi_runs(warehouse: Path) -> dict[str, int]:
    return dict(
        rows(
            warehouse,
            "select run_id, count(*) from reporting.fct_dealer_kpis_by_run group by run_id",
        )
    )


def test_dealer_kpis_are_kept_per_run(built, tmp_path):
    warehouse = tmp_path / "kpis.duckdb"
    shutil.copy(built, warehouse)

    # No run_id: the table is created with its columns and nothing in it.
    build_kpis(warehouse, tmp_path, None)
    assert columns_of(warehouse, "reporting", "fct_dealer_kpis_by_run") == RPT_DEALER_KPIS_COLUMNS
    assert kpi_runs(warehouse) == {}

    # Two runs: both kept, one row per dealer each.
    build_kpis(warehouse, tmp_path, "r1")
    build_kpis(warehouse, tmp_path, "r2")
    assert kpi_runs(warehouse) == {"r1": 3, "r2": 3}
    kpis = frame(warehouse, "select * from marts.fct_dealer_kpis order by dealer_id")
    for run_id in ("r1", "r2"):
        kept = frame(
            warehouse,
            "select * from reporting.fct_dealer_kpis_by_run where run_id = ? order by dealer_id",
            [run_id],
        )
        pd.testing.assert_frame_equal(kept[list(kpis.columns)], kpis)
        assert dict(zip(kept["dealer_id"], kept["dealer_name"], strict=True)) == DEALER_NAMES
        assert set(kept["as_of_date"].astype(str)) == {AS_OF}

    # The same run again replaces its own rows (no duplicates) and leaves r1's alone: the mart
    # changes in between, as if the run had been redone.
    con = duckdb.connect(str(warehouse))
    con.execute("update marts.fct_dealer_kpis set stockout_days = 99 where dealer_id = 'D1'")
    con.close()
    build_kpis(warehouse, tmp_path, "r2")
    assert kpi_runs(warehouse) == {"r1": 3, "r2": 3}
    assert as_dict(
        warehouse,
        "select run_id, stockout_days from reporting.fct_dealer_kpis_by_run where dealer_id = 'D1'",
    ) == {"r1": 2, "r2": 99}

    # A build without a run_id adds nothing and keeps the history.
    build_kpis(warehouse, tmp_path, None)
    assert kpi_runs(warehouse) == {"r1": 3, "r2": 3}


def copy_project(work: Path) -> Path:
    """A copy of the dbt project without its build output (a data engineer's working copy)."""
    project = work / "dbt_project"
    shutil.copytree(
        PROJECT_DIR,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
    )
    return project


def add_kpi_probe(project: Path) -> None:
    """Add a KPI `kpi_probe = stockout_days + 100` to fct_dealer_kpis, as a data engineer would."""
    model = project / "models" / "marts" / "fct_dealer_kpis.sql"
    sql = model.read_text()
    assert sql.rstrip().endswith("select * from final")
    model.write_text(
        sql.rstrip().removesuffix("select * from final")
        + "select\n    final.*,\n    final.stockout_days + 100 as kpi_probe\nfrom final\n"
    )


def test_kpi_column_added_to_the_mart_is_appended_to_the_history(built, tmp_path):
    warehouse = tmp_path / "kpis.duckdb"
    shutil.copy(built, warehouse)
    build_kpis(warehouse, tmp_path, "r1")

    project = copy_project(tmp_path)
    add_kpi_probe(project)
    result = run_dbt(
        ["build", "--select", "fct_dealer_kpis", "fct_dealer_kpis_by_run"],
        warehouse,
        tmp_path,
        {"as_of": AS_OF, "run_id": "r2"},
        project=project,
    )
    assert result.success, failed_nodes(result)

    assert columns_of(warehouse, "reporting", "fct_dealer_kpis_by_run") == [
        *RPT_DEALER_KPIS_COLUMNS,
        "kpi_probe",
    ]
    probe = {
        (r[0], r[1]): r[2:]
        for r in rows(
            warehouse,
            "select run_id, dealer_id, stockout_days, kpi_probe "
            "from reporting.fct_dealer_kpis_by_run",
        )
    }
    # r1 ran before the KPI existed: null there; r2 carries it for every dealer.
    assert {key: value[1] for key, value in probe.items() if key[0] == "r1"} == {
        ("r1", "D1"): None,
        ("r1", "D2"): None,
        ("r1", "D3"): None,
    }
    assert {key: value for key, value in probe.items() if key[0] == "r2"} == {
        ("r2", "D1"): (2, 102),
        ("r2", "D2"): (1, 101),
        ("r2", "D3"): (0, 100),
    }


@pytest.fixture(scope="module")
def built_here(built, tmp_path_factory) -> Path:
    """This file's own copy of `built` for the dbt commands that open it read-write (docs
    generate, parse): the shared build is never opened for writing."""
    warehouse = tmp_path_factory.mktemp("dbt") / "warehouse.duckdb"
    shutil.copy(built, warehouse)
    return warehouse


def test_docs_generate(built_here, tmp_path):
    result = run_dbt(["docs", "generate"], built_here, tmp_path)
    assert result.success
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    assert "model.dealer_vmi.fct_weekly_demand" in catalog["nodes"]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    node = manifest["nodes"]["model.dealer_vmi.fct_inventory_position"]
    assert node["description"] and all(c["description"] for c in node["columns"].values())

    inputs = manifest["nodes"]["model.dealer_vmi.fct_replenishment_inputs"]
    assert list(inputs["columns"]) == list(REPLENISHMENT_INPUTS)
    assert inputs["description"] and all(c["description"] for c in inputs["columns"].values())
    # The KPI history is dbt's now: no pipeline copy, no staging view over it.
    assert "model.dealer_vmi.stg_pipeline__dealer_kpis" not in manifest["nodes"]
    assert "source.dealer_vmi.pipeline.dealer_kpis" not in manifest["sources"]


def test_exposures_end_the_lineage_of_every_mart(built_here, tmp_path):
    result = run_dbt(["parse"], built_here, tmp_path)
    assert result.success
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    exposures = {e["name"]: e for e in manifest["exposures"].values()}

    def models(*names: str) -> set[str]:
        return {f"model.dealer_vmi.{name}" for name in names}

    assert {name: set(e["depends_on"]["nodes"]) for name, e in exposures.items()} == {
        "nightly_forecast": models(
            "fct_weekly_demand", "dim_dealer_skus", "fct_replenishment_inputs"
        ),
        "nightly_replenishment_policy": models(
            "fct_replenishment_inputs",
            "fct_feed_freshness",
            "fct_sales_exceptions",
            "dim_dealer_skus",
            "dim_dealers",
            "fct_sku_supply",
            "fct_dealer_escalation_quarterly",
            "fct_dealer_tier_proposal",
        ),
        "planner_report": models(
            "fct_weekly_demand",
            "fct_replenishment_inputs",
            "fct_dealer_kpis",
            "fct_feed_freshness",
            "rpt_suggestions",
            "rpt_alert_summary",
            "rpt_dealer_kpis",
            "rpt_forecast_accuracy",
            "rpt_run_history",
        ),
        "dealer_scorecard": models(
            "fct_dealer_scorecard_quarterly",
            "fct_dealer_escalation",
            "fct_bullwhip",
            "fct_dealer_channel_conflict",
        ),
    }
    for exposure in exposures.values():
        assert exposure["type"] in {"ml", "application", "dashboard"}
        assert exposure["owner"]["name"] and exposure["description"]
        assert not exposure.get("url")
    # No dead ends: every mart and reporting model feeds another model or an exposure.
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] == "model" and node["fqn"][1] in {"marts", "reporting"}:
            children = manifest["child_map"][unique_id]
            assert any(c.split(".")[0] in {"model", "exposure"} for c in children), unique_id
    # Every mart Python reads (warehouse/marts.py) is named by an exposure, so dbt's lineage
    # shows each Python consumer.
    readers = (PROJECT_DIR.parent / "warehouse" / "marts.py").read_text()
    read = set(re.findall(r"\bmarts\.((?:fct|dim)_\w+)", readers))
    exposed = set().union(*(set(e["depends_on"]["nodes"]) for e in exposures.values()))
    assert read and models(*read) <= exposed, sorted(models(*read) - exposed)


def project_unit_tests() -> set[str]:
    """The name of every dbt unit test in the project's YAML files."""
    import yaml

    names = set()
    for path in (PROJECT_DIR / "models").rglob("*.yml"):
        for unit_test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests") or []:
            names.add(unit_test["name"])
    return names


def test_every_unit_test_passes_under_the_vars_a_night_passes(built_here, tmp_path):
    """The nightly builds leave dbt's unit tests out (flows/dbt_build.py NIGHTLY_LEAVES_OUT):
    here they all run, core and reporting, under the vars a night gives dbt (as_of, run_id and
    the shipped policy's rules), as they did inside every night before."""
    from flows.dbt_build import NIGHTLY_LEAVES_OUT
    from replenishment.tiers import policy_dbt_vars

    assert NIGHTLY_LEAVES_OUT == ["--exclude-resource-type", "unit_test"]
    night_vars = {"as_of": AS_OF, "run_id": "r-night", **policy_dbt_vars(None)}
    result = run_dbt(["test", "--select", "test_type:unit"], built_here, tmp_path, night_vars)
    assert result.success, failed_nodes(result) if result.result else result.exception
    ran = {r.node.name: str(r.status) for r in result.result.results}
    expected = project_unit_tests()
    assert len(expected) >= 18 and set(ran) == expected
    assert set(ran.values()) == {"pass"}
