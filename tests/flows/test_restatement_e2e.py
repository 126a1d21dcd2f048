"""Re-deliveries and restatements across two nightly runs, checked against pandas on the files.

Night 1 delivers May-October. Night 2 delivers November, the same October file of D001 again
under another name, a re-export of one October day of D001 with only two of its SKUs, and a
corrected October file of D002 (twice, under two names). The marts must equal what the
restatement rule gives when computed independently from the files: for each dealer-day the
latest delivery that covers it wins, for all SKUs; identical content counts once. The superseded
values stay in raw.sell_through, and every SKU a restatement left out of a dealer-day is named
in a `partial_restatement` alert and in run_summary.json's `restatements`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

NOVEMBER = "2026-11"
RESTATED = "sell_through/D002_2026-10.csv"
CORRECTED = "sell_through/D002_2026-10_v2.csv"
CORRECTED_AGAIN = "sell_through/D002_2026-10_v2_resent.csv"
RESENT = "sell_through/D001_2026-10_resent.csv"
PARTIAL_DAY = "sell_through/D001_2026-10_day.csv"


def read_feed_file(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame[["dealer_id", "sku", "date", "qty_sold"]]


def delivered_rows(deliveries: list[list[Path]]) -> pd.DataFrame:
    """The files' rows, night by night, each night by file name, numbered by delivery and
    tagged with their file (`sell_through/<name>`) and night (1, 2, ...)."""
    seen: set[str] = set()
    frames = []
    order = 0
    for night_number, night in enumerate(deliveries, start=1):
        for path in sorted(night, key=lambda p: p.name):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen:  # the same bytes again: not a new delivery
                continue
            seen.add(digest)
            order += 1
            file = f"{path.parent.name}/{path.name}"
            frames.append(
                read_feed_file(path).assign(delivery=order, file=file, night=night_number)
            )
    return pd.concat(frames, ignore_index=True)


def expected_daily(deliveries: list[list[Path]], as_of: date) -> pd.DataFrame:
    """Independent restatement rule over the files, night by night, each night by file name.

    Returns qty_sold (sales), qty_returned and net_qty per dealer x SKU up to as_of.
    """
    rows = delivered_rows(deliveries)
    latest = rows.groupby(["dealer_id", "date"])["delivery"].transform("max")
    rows = rows[(rows["delivery"] == latest) & (rows["date"] <= as_of)]
    return (
        rows.assign(
            qty_sold=rows["qty_sold"].clip(lower=0),
            qty_returned=(-rows["qty_sold"]).clip(lower=0),
            net_qty=rows["qty_sold"],
        )
        .groupby(["dealer_id", "sku"])[["qty_sold", "qty_returned", "net_qty"]]
        .sum()
    )


def expected_restatements(deliveries: list[list[Path]]) -> dict[tuple, tuple[str, list[str]]]:
    """Per (file, dealer, day) delivered on the last night: the file it replaces and the SKUs
    that file had for the day and this one lacks (only where some are missing)."""
    rows = delivered_rows(deliveries)
    found = {}
    last_night = rows[rows["night"] == len(deliveries)]
    for (delivery, file, dealer, day), day_rows in last_night.groupby(
        ["delivery", "file", "dealer_id", "date"]
    ):
        earlier = rows[
            (rows["dealer_id"] == dealer) & (rows["date"] == day) & (rows["delivery"] < delivery)
        ]
        if earlier.empty:
            continue
        replaced = earlier[earlier["delivery"] == earlier["delivery"].max()]
        dropped = sorted(set(replaced["sku"]) - set(day_rows["sku"]))
        if dropped:
            found[(file, dealer, day.isoformat())] = (replaced["file"].iloc[0], dropped)
    return found


def mart_totals(warehouse: Path) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return (
            con.execute(
                "select dealer_id, sku, sum(qty_sold) as qty_sold, "
                "sum(qty_returned) as qty_returned, sum(net_qty) as net_qty "
                "from marts.fct_daily_demand group by all"
            )
            .df()
            .set_index(["dealer_id", "sku"])
            .sort_index()
        )


def correct(original: pd.DataFrame) -> pd.DataFrame:
    """The dealer's corrected October: changed quantities, a row withdrawn, a row added, and one
    day left out altogether (that day is not restated, so its first values stand)."""
    fixed = original.copy()
    days = sorted(fixed["date"].unique())
    fixed.loc[fixed["date"] == days[0], "qty_sold"] += 1
    busy_day = fixed["date"].value_counts().index[0]  # has several SKUs: stays covered
    fixed = fixed.drop(index=fixed.index[fixed["date"] == busy_day][0])
    fixed = fixed[fixed["date"] != days[len(days) // 2]]
    added_sku = sorted(set(fixed["sku"]) - set(fixed.loc[fixed["date"] == days[-1], "sku"]))[0]
    added = fixed.iloc[[0]].assign(sku=added_sku, date=days[-1], qty_sold=7)
    return pd.concat([fixed, added], ignore_index=True).sort_values(["date", "sku"])


@pytest.fixture(scope="module")
def two_nights(prefect_api, tmp_path_factory):
    from flows.nightly import nightly_replenishment
    from sampledata import generate

    base = tmp_path_factory.mktemp("restatement")
    world = base / "world"
    generate(world, dealers=4, skus=12, days=200, start=None, seed=5)
    landing = base / "landing"
    shutil.copytree(world, landing, ignore=shutil.ignore_patterns(f"*_{NOVEMBER}.*", "truth"))
    warehouse, out = base / "warehouse.duckdb", base / "out"

    night1 = sorted((landing / "sell_through").iterdir())
    run1 = Path(nightly_replenishment(landing=str(landing), warehouse=str(warehouse), out=str(out)))
    after1 = mart_totals(warehouse)

    for folder in ("sell_through", "inventory", "shipments"):
        for path in (world / folder).glob(f"*_{NOVEMBER}.*"):
            shutil.copy(path, landing / folder / path.name)
    shutil.copy(landing / "sell_through" / "D001_2026-10.csv", landing / RESENT)
    original = pd.read_csv(landing / RESTATED)
    correct(original).to_csv(landing / CORRECTED, index=False)
    shutil.copy(landing / CORRECTED, landing / CORRECTED_AGAIN)
    october = pd.read_csv(landing / "sell_through" / "D001_2026-10.csv")
    busiest = october["date"].value_counts().index[0]
    whole_day = october[october["date"] == busiest].sort_values("sku")
    whole_day.head(2).to_csv(landing / PARTIAL_DAY, index=False)  # a re-export of two SKUs
    night2 = [p for p in (landing / "sell_through").iterdir() if p not in night1]
    run2 = Path(nightly_replenishment(landing=str(landing), warehouse=str(warehouse), out=str(out)))
    return {
        "landing": landing,
        "warehouse": warehouse,
        "night1": night1,
        "night2": night2,
        "run1": run1,
        "run2": run2,
        "after1": after1,
        "after2": mart_totals(warehouse),
        "summary1": json.loads((run1 / "run_summary.json").read_text()),
        "summary2": json.loads((run2 / "run_summary.json").read_text()),
        "alerts2": pd.read_csv(run2 / "alerts.csv"),
        "partial_day": (busiest, sorted(whole_day["sku"].iloc[2:])),
    }


def compare(marts: pd.DataFrame, expected: pd.DataFrame) -> None:
    # The marts hold the active pairs (a pair with stock but no sale has zero demand); every
    # one of them must match the files exactly.
    assert len(marts) > 20
    assert len(set(marts.index) & set(expected.index)) > 20
    pd.testing.assert_frame_equal(
        marts,
        expected.reindex(marts.index, fill_value=0).astype(float),
        check_exact=False,
        rtol=0,
        atol=1e-9,
    )


def test_first_night_marts_equal_the_files(two_nights):
    as_of = date.fromisoformat(two_nights["run1"].name)
    assert as_of == date(2026, 10, 31)
    compare(two_nights["after1"], expected_daily([two_nights["night1"]], as_of))


def test_second_night_marts_follow_the_latest_version_of_each_dealer_day(two_nights):
    as_of = date.fromisoformat(two_nights["run2"].name)
    assert as_of == date(2026, 11, 29)
    expected = expected_daily([two_nights["night1"], two_nights["night2"]], as_of)
    compare(two_nights["after2"], expected)
    # The correction changed D002's numbers, and the marts carry the corrected ones.
    naive = expected_daily(
        [two_nights["night1"], [p for p in two_nights["night2"] if "v2" not in p.name]], as_of
    )
    d002 = [pair for pair in two_nights["after2"].index if pair[0] == "D002"]
    assert d002 and set(d002) <= set(expected.index)
    assert not naive.loc[d002, "net_qty"].equals(expected.loc[d002, "net_qty"])


def test_resent_files_count_once_and_the_correction_is_a_new_delivery(two_nights):
    files = {entry["path"]: entry for entry in two_nights["summary2"]["files"]}
    assert files[RESENT]["status"] == "duplicate"
    assert files[CORRECTED_AGAIN]["status"] == "duplicate"
    assert files[CORRECTED]["status"] == "accepted"
    assert files[RESTATED]["status"] == "duplicate"  # already loaded on night 1
    with duckdb.connect(str(two_nights["warehouse"]), read_only=True) as con:
        loaded = dict(
            con.execute("select source_file, count(*) from raw.sell_through group by 1").fetchall()
        )
    assert RESENT not in loaded and CORRECTED_AGAIN not in loaded
    for path, entry in files.items():
        if entry["feed"] == "sell_through" and entry["status"] in ("accepted", "partial"):
            assert loaded[path] == entry["rows_accepted"], path


def test_superseded_values_stay_in_raw_history(two_nights):
    landing = two_nights["landing"]
    with duckdb.connect(str(two_nights["warehouse"]), read_only=True) as con:
        history = con.execute(
            "select source_file, dealer_id, sku, date, qty_sold, delivery_seq "
            "from raw.sell_through where source_file in (?, ?) order by source_file, line",
            [RESTATED, CORRECTED],
        ).df()
    for path in (RESTATED, CORRECTED):
        stored = history[history["source_file"] == path].reset_index(drop=True)
        sent = read_feed_file(landing / path).reset_index(drop=True)
        assert stored["qty_sold"].tolist() == sent["qty_sold"].astype(float).tolist()
        assert stored["sku"].tolist() == sent["sku"].tolist()
        assert [d.date() if hasattr(d, "date") else d for d in stored["date"]] == sent[
            "date"
        ].tolist()
    first = history.loc[history["source_file"] == RESTATED, "delivery_seq"].unique()
    second = history.loc[history["source_file"] == CORRECTED, "delivery_seq"].unique()
    assert len(first) == len(second) == 1 and second[0] > first[0]


def test_skus_a_restatement_leaves_out_are_reported_in_the_summary_and_an_alert(two_nights):
    assert two_nights["summary1"]["restatements"] == []
    restated = two_nights["summary2"]["restatements"]
    expected = expected_restatements([two_nights["night1"], two_nights["night2"]])
    reported = {
        (r["file"], r["dealer_id"], r["date"]): (r["previous_file"], r["dropped_skus"])
        for r in restated
    }
    assert reported == expected
    for entry in restated:
        assert entry["skus_dropped"] == len(entry["dropped_skus"]) > 0
    # The one-day re-export: exactly the SKUs it left out of that day.
    day, left_out = two_nights["partial_day"]
    assert len(left_out) >= 1
    (entry,) = [r for r in restated if r["file"] == PARTIAL_DAY]
    assert (entry["dealer_id"], entry["date"]) == ("D001", day)
    assert entry["previous_file"] == "sell_through/D001_2026-10.csv"
    assert entry["dropped_skus"] == left_out and entry["skus_delivered"] == 2
    # The corrected D002 file withdrew a row of a day it still covers: reported too.
    assert any(r["file"] == CORRECTED for r in restated)

    alerts = two_nights["alerts2"]
    partial = alerts[alerts["alert_type"] == "partial_restatement"]
    assert len(partial) == len(restated)
    assert set(partial["severity"]) == {"info"}
    assert sorted(partial["metric"]) == sorted(float(r["skus_dropped"]) for r in restated)
    assert two_nights["summary2"]["alerts"]["partial_restatement"] == len(restated)
    (message,) = partial.loc[partial["message"].str.contains(PARTIAL_DAY, regex=False), "message"]
    assert message.startswith(f"D001 {day}: file {PARTIAL_DAY} restated the day")
    assert all(sku in message for sku in left_out[:5])
