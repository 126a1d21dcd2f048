"""Dealer performance marts (issue 13): scorecard, escalation, bullwhip, built by real dbt.

Two warehouses, each built once with `dbt build --selector core`:

- `generated`: the small generated landing (tests/conftest.py `small_landing`, 6 dealers x 25
  SKUs x 400 days ending 2026-11-29) ingested as the nightly does, plus a hand-made price list
  for half of the SKUs (raw.price_list, `PRICE_LIST_FROM`). KPIs and bullwhip ratios are
  recomputed with pandas / numpy from the raw tables (restatement rules applied here again).
- `escalating`: a hand-made world (below) whose sell-through rate alternates between good and
  bad quarters, with benchmarks set so that only that KPI can fail: the escalation walk is then
  known quarter by quarter.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from landing.schema import raw_tables
from tests.dbt.test_dbt_project import failed_nodes, run_dbt
from warehouse import connect, ensure_tables

pytestmark = pytest.mark.slow

GENERATED_AS_OF = "2026-11-29"
# The hand-made price list: each listed SKU's median selling price x 1.2 from the first date,
# x 0.9 from the second, so some sales fall outside the 30 % tolerance and some inside.
PRICE_LIST_FROM = ("2026-02-01", "2026-05-15")
SCORECARD_KPIS = {
    "sell_through_rate": "higher",
    "inventory_turnover": "higher",
    "stockout_share": "lower",
    "slow_mover_share": "lower",
    "count_coverage": "higher",
    "days_of_inventory": "lower",
    "cross_territory_share": "lower",
    "price_breach_share": "lower",
    "feed_timeliness": "higher",
    "forecast_wape": "lower",
}


def frame(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def build(warehouse: Path, work: Path, vars_: dict) -> None:
    result = run_dbt(["build", "--selector", "core"], warehouse, work, vars_)
    assert result.success, failed_nodes(result) if result.result else result.exception


# --- the generated world ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(small_landing, tmp_path_factory) -> Path:
    from landing.ingest import ingest_landing

    work = tmp_path_factory.mktemp("dealer-marts")
    warehouse = work / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        ingest_landing(
            small_landing, con, run_id="r1", as_of=dt.date.fromisoformat(GENERATED_AS_OF)
        )
        add_price_list(con)
    finally:
        con.close()
    build(warehouse, work, {"as_of": GENERATED_AS_OF})
    return warehouse


def add_price_list(con) -> None:
    median = con.execute(
        "select sku, median(unit_price) from raw.sell_through where unit_price is not null "
        "group by sku order by sku"
    ).fetchall()
    rows = []
    for sku, price in median[::2]:
        for factor, valid_from in zip((1.2, 0.9), PRICE_LIST_FROM, strict=True):
            rows.append((sku, round(price * factor, 2), valid_from))
    con.executemany(
        "insert into raw.price_list values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [row + lineage(i + 2) for i, row in enumerate(rows)],
    )


def restated_sales(warehouse: Path) -> pd.DataFrame:
    """Sell-through after the restatement rule: latest delivery per dealer-day wins."""
    sales = frame(
        warehouse, "select dealer_id, sku, date, qty_sold, delivery_seq from raw.sell_through"
    )
    latest = sales.groupby(["dealer_id", "date"])["delivery_seq"].transform("max")
    sales = sales[sales["delivery_seq"] == latest].copy()
    sales["date"] = pd.to_datetime(sales["date"])
    sales["qty_sold"] = sales["qty_sold"].clip(lower=0)
    return sales


def restated_counts(warehouse: Path) -> pd.DataFrame:
    counts = frame(
        warehouse, "select dealer_id, sku, snapshot_date, on_hand, delivery_seq from raw.inventory"
    )
    counts = counts.sort_values("delivery_seq").drop_duplicates(
        ["dealer_id", "sku", "snapshot_date"], keep="last"
    )
    counts["snapshot_date"] = pd.to_datetime(counts["snapshot_date"])
    return counts


def test_scorecard_kpis_match_pandas(generated):
    card = frame(generated, "select * from marts.fct_dealer_scorecard_quarterly")
    sales = restated_sales(generated)
    counts = restated_counts(generated)
    as_of = pd.Timestamp(GENERATED_AS_OF)
    first = (
        pd.concat(
            [
                sales.groupby("dealer_id")["date"].min(),
                counts.groupby("dealer_id")["snapshot_date"].min(),
            ]
        )
        .groupby(level=0)
        .min()
    )

    expected = {}
    for dealer, first_day in first.items():
        for start in pd.date_range(first_day, as_of, freq="QS"):
            end = start + pd.offsets.QuarterEnd(0)
            if end > as_of:
                continue
            mine = sales[(sales["dealer_id"] == dealer) & sales["date"].between(start, end)]
            sold = mine["qty_sold"].sum()
            dealer_counts = counts[counts["dealer_id"] == dealer]
            upto = dealer_counts[dealer_counts["snapshot_date"] <= end]
            on_hand_end = upto.sort_values("snapshot_date").groupby("sku")["on_hand"].last().sum()
            inside = dealer_counts[dealer_counts["snapshot_date"].between(start, end)]
            average = inside.groupby("sku")["on_hand"].mean().sum()
            sundays = pd.date_range(start, end, freq="W-SUN")
            counted = inside.loc[inside["snapshot_date"].isin(sundays), "snapshot_date"].nunique()
            expected[(dealer, start.date())] = {
                "sell_through_rate": sold / (sold + on_hand_end) if sold + on_hand_end else None,
                "inventory_turnover": sold / average if average else None,
                "count_coverage": counted / len(sundays),
            }

    assert len(expected) >= 12  # 6 dealers x three complete quarters
    got = card.set_index(["dealer_id", card["quarter_start"].dt.date])
    assert set(got.index) == set(expected)
    for key, kpis in expected.items():
        for kpi, value in kpis.items():
            if value is None:
                assert pd.isna(got.loc[key, kpi]), (key, kpi)
            else:
                assert got.loc[key, kpi] == pytest.approx(value, rel=1e-9), (key, kpi)
    # The score is the share of scored KPIs (value and benchmark known) meeting their benchmark.
    kpi_names = list(SCORECARD_KPIS)
    assert {f"{k}_benchmark" for k in kpi_names} <= set(card.columns)
    for kpi, direction in SCORECARD_KPIS.items():
        value, benchmark = card[kpi], card[f"{kpi}_benchmark"]
        known = value.notna() & benchmark.notna()
        expected = value >= benchmark if direction == "higher" else value <= benchmark
        assert card.loc[known, f"{kpi}_passed"].astype(bool).equals(expected[known]), kpi
        assert card.loc[~known, f"{kpi}_passed"].isna().all(), kpi
    passed = card[[f"{k}_passed" for k in kpi_names]].fillna(False).astype(bool).sum(axis=1)
    scored = card[[f"{k}_passed" for k in kpi_names]].notna().sum(axis=1)
    assert (card["kpis_passed"] == passed).all() and (card["kpis_scored"] == scored).all()
    assert np.allclose(card["score"], passed / scored)
    assert (card["below_benchmark"] == (passed / scored < 0.6)).all()


def test_stockout_share_matches_the_daily_flags(generated):
    card = frame(generated, "select * from marts.fct_dealer_scorecard_quarterly")
    daily = frame(generated, "select dealer_id, date, is_stockout from marts.fct_daily_demand")
    daily["date"] = pd.to_datetime(daily["date"])
    for row in card.itertuples():
        days = daily[
            (daily["dealer_id"] == row.dealer_id)
            & daily["date"].between(row.quarter_start, row.quarter_end)
        ]
        assert row.pair_days == len(days)
        assert row.stockout_share == pytest.approx(days["is_stockout"].mean())


def latest_master(warehouse: Path, table: str, columns: str) -> pd.DataFrame:
    """A master table's rows of its latest delivery (the staging rule)."""
    return frame(
        warehouse,
        f"select {columns} from raw.{table} "
        f"where delivery_seq = (select max(delivery_seq) from raw.{table})",
    )


def test_added_scorecard_kpis_match_pandas(generated):
    card = frame(generated, "select * from marts.fct_dealer_scorecard_quarterly")
    raw_sales = frame(
        generated,
        "select dealer_id, sku, date, qty_sold, unit_price, customer_region, delivery_seq "
        "from raw.sell_through",
    )
    latest = raw_sales.groupby(["dealer_id", "date"])["delivery_seq"].transform("max")
    sales = raw_sales[(raw_sales["delivery_seq"] == latest)].copy()
    sales["date"] = pd.to_datetime(sales["date"])
    sold = sales[sales["qty_sold"] > 0]
    counts = restated_counts(generated)
    cost = latest_master(generated, "skus", "sku, unit_cost").set_index("sku")["unit_cost"]
    territory = latest_master(generated, "dealers", "dealer_id, territory").set_index("dealer_id")[
        "territory"
    ]
    prices = latest_master(generated, "price_list", "sku, list_price, valid_from")
    prices["valid_from"] = pd.to_datetime(prices["valid_from"])
    prices = prices.sort_values(["sku", "valid_from"])
    prices["valid_to"] = prices.groupby("sku")["valid_from"].shift(-1)
    priced = sold[sold["unit_price"].notna()].merge(prices, on="sku")
    priced = priced[
        (priced["date"] >= priced["valid_from"])
        & (priced["valid_to"].isna() | (priced["date"] < priced["valid_to"]))
    ]
    priced = priced.assign(
        breach=(priced["unit_price"] / priced["list_price"] - 1).abs() > 0.30  # shipped tolerance
    )
    as_of = pd.Timestamp(GENERATED_AS_OF)
    reports = {
        "sell_through": (sales[sales["date"] <= as_of], "date", 3),
        "inventory": (counts[counts["snapshot_date"] <= as_of], "snapshot_date", 7),
    }

    checked = {"price_breach_share": 0, "cross_territory_share": 0}
    for row in card.itertuples():
        start, end = pd.Timestamp(row.quarter_start), pd.Timestamp(row.quarter_end)
        mine = sold[(sold["dealer_id"] == row.dealer_id) & sold["date"].between(start, end)]
        # days_of_inventory: average stock at cost / (cost of goods sold / days of the quarter).
        inside = counts[
            (counts["dealer_id"] == row.dealer_id) & counts["snapshot_date"].between(start, end)
        ]
        stock_value = (inside.groupby("sku")["on_hand"].mean() * cost).dropna().sum()
        cogs = (mine["qty_sold"] * mine["sku"].map(cost)).sum()
        days = (end - start).days + 1
        assert row.quarter_days == days
        if cogs > 0 and len(inside):
            assert row.days_of_inventory == pytest.approx(stock_value / (cogs / days), rel=1e-9)
        else:
            assert pd.isna(row.days_of_inventory)
        # cross_territory_share: units sold to a customer outside the dealer's territory.
        home = territory.get(row.dealer_id)
        away = mine["customer_region"].notna() & (mine["customer_region"] != home)
        units = mine["qty_sold"].sum()
        assert row.cross_territory_share == pytest.approx(
            mine.loc[away, "qty_sold"].sum() / units, abs=1e-12
        )
        checked["cross_territory_share"] += bool(away.any())
        # price_breach_share: units beyond the tolerance / units with a list price in effect.
        listed = priced[(priced["dealer_id"] == row.dealer_id) & priced["date"].between(start, end)]
        if listed.empty:
            assert pd.isna(row.price_breach_share)
        else:
            share = listed.loc[listed["breach"], "qty_sold"].sum() / listed["qty_sold"].sum()
            assert row.price_breach_share == pytest.approx(share, abs=1e-12)
            checked["price_breach_share"] += 0 < share < 1
        # feed_timeliness: days on which both feeds' newest data date is within its limit.
        timely = np.ones(days, dtype=bool)
        day_index = pd.date_range(start, end)
        for feed_rows, column, limit in reports.values():
            dates = np.sort(feed_rows.loc[feed_rows["dealer_id"] == row.dealer_id, column].unique())
            at = np.searchsorted(dates, day_index.to_numpy(), side="right") - 1
            age = np.where(
                at >= 0,
                (day_index.to_numpy() - dates[np.maximum(at, 0)])
                .astype("timedelta64[D]")
                .astype(int),
                10**6,
            )
            timely &= age <= limit
        assert row.timely_days == int(timely.sum())
        assert row.feed_timeliness == pytest.approx(timely.mean())
    # The checks above met real cases: cross-territory sales and quarters with some breaches.
    assert all(checked.values()), checked
    # No earlier run stored a forecast in this warehouse: WAPE is not scored.
    assert card["forecast_wape"].isna().all() and card["forecast_wape_passed"].isna().all()


def test_bullwhip_ratio_is_the_variance_ratio_of_weekly_sums(generated):
    bull = frame(generated, "select * from marts.fct_bullwhip")
    assert set(bull["window_label"]) == {"26w"} and set(bull["window_weeks"]) == {26}
    # 2026-11-29 is a Sunday: the window is the 26 weeks ending that day.
    window_start = pd.Timestamp("2026-06-01")
    assert set(bull["window_start"]) == {window_start}
    weeks = pd.date_range(window_start, periods=26, freq="W-MON")

    sales = restated_sales(generated)
    shipments = frame(
        generated,
        "select shipment_id, dealer_id, sku, ship_date, qty, delivery_seq from raw.shipments",
    )
    shipments = shipments.sort_values("delivery_seq").drop_duplicates("shipment_id", keep="last")
    shipments["ship_date"] = pd.to_datetime(shipments["ship_date"])

    def weekly(rows: pd.DataFrame, day: str, qty: str) -> pd.Series:
        monday = rows[day] - pd.to_timedelta(rows[day].dt.weekday, unit="D")
        return rows.groupby(monday)[qty].sum().reindex(weeks, fill_value=0.0)

    def ratio(sell_in: pd.Series, sell_out: pd.Series) -> float | None:
        out_var = np.var(sell_out.to_numpy(), ddof=1)
        return np.var(sell_in.to_numpy(), ddof=1) / out_var if out_var > 0 else None

    pairs = bull[~bull["is_dealer_total"] & (bull["sell_in_qty"] > 0)].head(6)
    dealer_rows = bull[bull["is_dealer_total"]].head(3)
    assert len(pairs) >= 3 and len(dealer_rows) == 3
    for row in pd.concat([pairs, dealer_rows]).itertuples():
        mine_out = sales[sales["dealer_id"] == row.dealer_id]
        mine_in = shipments[shipments["dealer_id"] == row.dealer_id]
        if not row.is_dealer_total:
            mine_out = mine_out[mine_out["sku"] == row.sku]
            mine_in = mine_in[mine_in["sku"] == row.sku]
        sell_out = weekly(mine_out, "date", "qty_sold")
        sell_in = weekly(mine_in, "ship_date", "qty")
        assert row.sell_out_qty == pytest.approx(sell_out.sum())
        assert row.sell_in_qty == pytest.approx(sell_in.sum())
        expected = ratio(sell_in, sell_out)
        if expected is None:
            assert pd.isna(row.variance_ratio)
        else:
            assert row.variance_ratio == pytest.approx(expected, rel=1e-9), row
    # One total row per dealer that has a pair row.
    assert set(bull.loc[bull["is_dealer_total"], "dealer_id"]) == set(bull["dealer_id"])


def test_escalation_has_one_row_per_dealer(generated):
    escalation = frame(generated, "select * from marts.fct_dealer_escalation")
    dealers = frame(generated, "select dealer_id from marts.dim_dealers")
    assert sorted(escalation["dealer_id"]) == sorted(dealers["dealer_id"])
    assert set(escalation["state"]) <= {"ok", "warning", "improvement_plan", "exit_review"}


# --- the escalating world ---------------------------------------------------------------------

ESCALATING_AS_OF = "2024-06-30"
# Quarters from 2022-07-01: True = a good quarter (sells 30 units, 5 left at quarter end),
# False = a bad one (sells 2 units, 40 left). Only sell_through_rate can fail below.
PATTERN = {
    "G1": [True, False, False, True, False, False, False, False],
    "G2": [True] * 8,
}
EXPECTED_STATES = {
    # quarter index -> (state, since quarter index) for G1
    "G1": [
        ("ok", 0),
        ("ok", 0),
        ("warning", 2),
        ("ok", 3),
        ("ok", 3),
        ("warning", 5),
        ("improvement_plan", 6),
        ("exit_review", 7),
    ],
    "G2": [("ok", 0)] * 8,
}
LENIENT = {
    "sell_through_rate": 0.5,
    "inventory_turnover": 0.0,
    "stockout_share": 1.0,
    "slow_mover_share": 1.0,
    "count_coverage": 0.0,
}
QUARTERS = [d.date() for d in pd.date_range("2022-07-01", periods=8, freq="QS")]
LOADED_AT = dt.datetime(2024, 6, 30, 23)


def lineage(line: int) -> tuple:
    return ("sha1", "landing/feed.csv", line, 1, "run1", LOADED_AT)


def load_escalating(path: Path) -> None:
    sales, counts = [], []
    for dealer, pattern in PATTERN.items():
        for start, good in zip(QUARTERS, pattern, strict=True):
            end = (pd.Timestamp(start) + pd.offsets.QuarterEnd(0)).date()
            days = 10 if good else 1
            sales += [
                (dealer, "S1", start + dt.timedelta(days=7 * i + 1), 3.0 if good else 2.0)
                for i in range(days)
            ]
            on_hand = 5.0 if good else 40.0
            counts += [
                (dealer, "S1", sunday.date(), on_hand)
                for sunday in pd.date_range(start, end, freq="W-SUN")
            ]
        counts.append((dealer, "S1", QUARTERS[0], 20.0))  # first activity on the first day
    con = connect(path)
    ensure_tables(con, "raw", raw_tables())
    try:
        con.executemany(
            "insert into raw.dealers values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (dealer, dealer, "N", "NORTH", 7.0, 1.0, 7, None) + lineage(i + 2)
                for i, dealer in enumerate(PATTERN)
            ],
        )
        con.execute(
            "insert into raw.skus values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("S1", "part", "parts", 10.0, 1, 1, "A") + lineage(2),
        )
        con.executemany(
            "insert into raw.sell_through values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (dl, sku, day, qty, 10.0, "NORTH") + lineage(i + 2)
                for i, (dl, sku, day, qty) in enumerate(sales)
            ],
        )
        con.executemany(
            "insert into raw.inventory values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row + lineage(i + 2) for i, row in enumerate(counts)],
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def escalating(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("escalating")
    warehouse = work / "warehouse.duckdb"
    load_escalating(warehouse)
    build(
        warehouse,
        work,
        {"as_of": ESCALATING_AS_OF, "scorecard_benchmarks": LENIENT, "scorecard_min_score": 1.0},
    )
    return warehouse


def walk(below: list[bool]) -> list[tuple[str, int]]:
    """The state machine of docs/dbt.md, in Python: (state, since index) per quarter."""
    out, streak = [], 0
    for i, is_below in enumerate(below):
        streak = streak + 1 if is_below else 0
        state = (
            "exit_review"
            if streak >= 4
            else "improvement_plan"
            if streak >= 3
            else "warning"
            if streak >= 2
            else "ok"
        )
        since = out[-1][1] if out and out[-1][0] == state else i
        out.append((state, since))
    return out


def test_escalation_follows_consecutive_quarters_below(escalating):
    card = frame(escalating, "select * from marts.fct_dealer_scorecard_quarterly order by all")
    history = frame(escalating, "select * from marts.fct_dealer_escalation_quarterly order by all")
    current = frame(escalating, "select * from marts.fct_dealer_escalation order by dealer_id")
    for dealer, pattern in PATTERN.items():
        mine = card[card["dealer_id"] == dealer]
        assert [d.date() for d in mine["quarter_start"]] == QUARTERS
        # Sell-through rate: 30 / (30 + 5) in a good quarter, 2 / (2 + 40) in a bad one.
        rates = [30 / 35 if good else 2 / 42 for good in pattern]
        assert mine["sell_through_rate"].tolist() == pytest.approx(rates)
        assert mine["below_benchmark"].tolist() == [not good for good in pattern]
        walked = history[history["dealer_id"] == dealer]
        got = [
            (state, QUARTERS.index(since.date()))
            for state, since in zip(walked["state"], walked["state_since_quarter"], strict=True)
        ]
        assert got == EXPECTED_STATES[dealer] == walk([not good for good in pattern])
    assert current[["dealer_id", "state"]].values.tolist() == [
        ["G1", "exit_review"],
        ["G2", "ok"],
    ]
    assert current["since_quarter"].dt.date.tolist() == [QUARTERS[7], QUARTERS[0]]
    assert current["quarters_below"].tolist() == [4, 0]
