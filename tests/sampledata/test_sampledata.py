"""The synthetic dealer world: landing layout, determinism and the realism the pipeline needs.

Most checks read the written files back (as the ingest would) and verify them against the
truth file or against each other (stock balance), not against the generator's own arrays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sampledata
from sampledata import build_world, expected_daily_demand, true_daily_demand, write_landing

SMALL = dict(dealers=6, skus=20, days=180)

# Column lists copied from DESIGN.md "Landing folder" (deliberately not imported from the code).
DESIGN_COLUMNS = {
    "master/dealers.csv": [
        "dealer_id", "dealer_name", "region", "territory", "lead_time_days",
        "lead_time_sd_days", "review_period_days",
        "tier",  # optional, DESIGN.md "Dealer management" (policy.yml tiers)
    ],
    "master/skus.csv": [
        "sku", "description", "category", "unit_cost", "pack_size", "moq", "abc_class",
    ],
    "master/dealer_skus.csv": [
        "dealer_id", "sku", "service_level", "min_qty", "max_qty", "active",
    ],
    "sell_through": ["dealer_id", "sku", "date", "qty_sold", "unit_price", "customer_region"],
    "inventory": ["dealer_id", "sku", "snapshot_date", "on_hand"],
    "shipments": [
        "shipment_id", "dealer_id", "sku", "ship_date", "expected_date", "received_date", "qty",
    ],
}  # fmt: skip
DATE_COLUMNS = {
    "sell_through": ["date"],
    "inventory": ["snapshot_date"],
    "shipments": ["ship_date", "expected_date", "received_date"],
}


def read_any(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_feed(root: Path, feed: str) -> pd.DataFrame:
    """Concatenate a feed folder the way an ingest would: any file, CSV or Parquet."""
    frames = []
    for path in sorted((root / feed).iterdir()):
        frame = read_any(path)
        for col in DATE_COLUMNS[feed]:
            frame[col] = pd.to_datetime(frame[col].replace("", None))
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    for col in ("qty_sold", "on_hand", "qty"):
        if col in frame:
            frame[col] = frame[col].astype(int)
    if "unit_price" in frame:
        frame["unit_price"] = frame["unit_price"].astype(float)
    return frame


def digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("landing")
    counts = sampledata.generate(out, seed=11, **SMALL)
    return out, counts


@pytest.fixture(scope="module")
def feeds(landing) -> dict[str, pd.DataFrame]:
    root, _ = landing
    out = {feed: read_feed(root, feed) for feed in ("sell_through", "inventory", "shipments")}
    out["dealers"] = pd.read_csv(root / "master/dealers.csv")
    out["skus"] = pd.read_csv(root / "master/skus.csv", keep_default_na=False)
    out["dealer_skus"] = pd.read_csv(
        root / "master/dealer_skus.csv", dtype=str, keep_default_na=False
    )
    truth = pd.read_parquet(root / "truth/true_demand.parquet")
    truth["date"] = pd.to_datetime(truth["date"])
    out["truth"] = truth
    return out


@pytest.fixture(scope="module")
def default_world():
    # The default size builds in about a second without writing files.
    return build_world()


# --- layout and determinism -------------------------------------------------------------------


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path, landing):
    root, _ = landing
    again = tmp_path / "again"
    sampledata.generate(again, seed=11, **SMALL)
    assert digest_tree(again) == digest_tree(root)

    other = tmp_path / "other"
    sampledata.generate(other, seed=12, **SMALL)
    a = pd.read_parquet(root / "truth/true_demand.parquet")
    b = pd.read_parquet(other / "truth/true_demand.parquet")
    assert not (len(a) == len(b) and (a["demand"].to_numpy() == b["demand"].to_numpy()).all())
    assert digest_tree(other) != digest_tree(root)


def test_columns_are_exactly_the_design_columns(landing):
    root, _ = landing
    for name in ("master/dealers.csv", "master/skus.csv", "master/dealer_skus.csv"):
        assert list(pd.read_csv(root / name, nrows=0).columns) == DESIGN_COLUMNS[name]
    for feed in ("sell_through", "inventory", "shipments"):
        files = sorted((root / feed).iterdir())
        assert files, feed
        for path in files:
            assert list(read_any(path).columns) == DESIGN_COLUMNS[feed], path
    truth = pd.read_parquet(root / "truth/true_demand.parquet")
    assert list(truth.columns) == [
        "dealer_id", "sku", "date", "demand", "lost_sales", "on_hand_end",
    ]  # fmt: skip


def test_file_layout_one_file_per_dealer_month_in_both_formats(landing, feeds):
    root, counts = landing
    for feed, date_col in (("sell_through", "date"), ("inventory", "snapshot_date")):
        suffixes = set()
        for path in (root / feed).iterdir():
            match = re.fullmatch(r"(D\d{3})_(\d{4}-\d{2})\.(csv|parquet)", path.name)
            assert match, path.name
            suffixes.add(match.group(3))
            frame = read_any(path)
            assert set(frame["dealer_id"]) == {match.group(1)}
            assert {str(v)[:7] for v in frame[date_col]} == {match.group(2)}
        assert suffixes == {"csv", "parquet"}, feed
    for path in (root / "shipments").iterdir():
        assert re.fullmatch(r"shipments_\d{4}-\d{2}\.csv", path.name)

    on_disk = {
        f: len(list((root / f).iterdir()))
        for f in ("sell_through", "inventory", "shipments", "master", "truth")
    }
    assert {k: counts["files"][k] for k in on_disk} == on_disk
    for feed in ("sell_through", "inventory", "shipments"):
        assert counts["rows"][feed] == len(feeds[feed])


def test_dates_are_iso_in_csv_and_in_transit_is_empty(landing):
    root, _ = landing
    shipment_file = sorted((root / "shipments").iterdir())[-1]
    text = shipment_file.read_text().splitlines()
    iso = r"\d{4}-\d{2}-\d{2}"
    for line in text[1:]:
        fields = line.split(",")
        assert re.fullmatch(iso, fields[3]) and re.fullmatch(iso, fields[4])
        assert fields[5] == "" or re.fullmatch(iso, fields[5])
    assert any(line.split(",")[5] == "" for line in text[1:])


def test_default_dates_end_on_2026_11_29_and_start_is_honoured():
    world = build_world(dealers=2, skus=3, days=10)
    assert world.end == dt.date(2026, 11, 29)
    assert world.start == dt.date(2026, 11, 20)
    world = build_world(dealers=2, skus=3, days=10, start=dt.date(2024, 2, 25))
    assert (world.start, world.end) == (dt.date(2024, 2, 25), dt.date(2024, 3, 5))


def test_progress_callback_is_called_and_nothing_is_printed(tmp_path, capsys):
    messages: list[str] = []
    sampledata.generate(tmp_path, dealers=2, skus=3, days=20, progress=messages.append)
    assert len(messages) >= 5
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_rejects_empty_world():
    with pytest.raises(ValueError, match="dealers"):
        build_world(dealers=0)


# --- master data --------------------------------------------------------------------------------


def test_master_data_is_plausible(feeds):
    dealers, skus, overrides = feeds["dealers"], feeds["skus"], feeds["dealer_skus"]
    assert dealers["dealer_id"].is_unique and dealers["territory"].is_unique
    assert dealers["region"].nunique() == 4
    assert (dealers["lead_time_days"] > 0).all() and (dealers["lead_time_sd_days"] >= 0).all()
    assert set(dealers["review_period_days"]) <= {7, 14}

    assert skus["sku"].is_unique
    assert (skus["unit_cost"].astype(float) > 0).all()
    pack, moq = skus["pack_size"].astype(int), skus["moq"].astype(int)
    assert set(pack) <= {1, 2, 4, 6, 10, 12, 24} and pack.nunique() >= 3
    assert (moq >= pack).all() and (moq % pack == 0).all()
    abc = skus["abc_class"]
    assert (abc == "").any(), "some abc_class must be blank so the pipeline derives it"
    assert set(abc[abc != ""]) <= {"A", "B", "C"} and (abc != "").sum() > len(abc) / 2

    assert set(overrides["dealer_id"]) <= set(dealers["dealer_id"])
    assert set(overrides["sku"]) <= set(skus["sku"])
    assert set(overrides["active"]) == {"true", "false"}
    levels = pd.to_numeric(overrides["service_level"].replace("", None)).dropna()
    assert len(levels) >= 1 and levels.between(0.5, 0.999).all()
    lo = pd.to_numeric(overrides["min_qty"].replace("", None))
    hi = pd.to_numeric(overrides["max_qty"].replace("", None))
    assert lo.notna().any() and (lo[lo.notna()] < hi[lo.notna()]).all()


def test_not_every_dealer_carries_every_sku(feeds):
    pairs = feeds["truth"][["dealer_id", "sku"]].drop_duplicates()
    n_all = len(feeds["dealers"]) * len(feeds["skus"])
    assert 0.6 * n_all < len(pairs) < n_all
    seen = pd.concat(
        [feeds["sell_through"][["dealer_id", "sku"]], feeds["inventory"][["dealer_id", "sku"]]]
    ).drop_duplicates()
    # Nothing is reported for a pair the dealer does not carry.
    assert len(seen.merge(pairs, how="left", indicator=True).query("_merge != 'both'")) == 0


# --- sales, stock and shipments -----------------------------------------------------------------


def test_sales_are_capped_by_demand_and_lost_sales_mean_an_empty_shelf(feeds):
    sales, truth = feeds["sell_through"], feeds["truth"]
    assert sales.duplicated(["dealer_id", "sku", "date"]).sum() == 0
    positive = sales[sales["qty_sold"] > 0].merge(truth, on=["dealer_id", "sku", "date"])
    assert len(positive) == (sales["qty_sold"] > 0).sum()
    assert (positive["qty_sold"] <= positive["demand"]).all()
    # sales = min(demand, on_hand): what was not sold was lost.
    assert (positive["qty_sold"] == positive["demand"] - positive["lost_sales"]).all()
    lost = truth[truth["lost_sales"] > 0]
    assert len(lost) > 0
    assert (lost["on_hand_end"] == 0).all()
    assert (truth["lost_sales"] <= truth["demand"]).all()


def test_returns_exist_on_days_without_demand(feeds):
    returns = feeds["sell_through"][feeds["sell_through"]["qty_sold"] < 0]
    assert 0 < len(returns) < 0.02 * len(feeds["sell_through"])
    joined = returns.merge(feeds["truth"], on=["dealer_id", "sku", "date"])
    assert (joined["demand"] == 0).all()
    assert (returns["unit_price"] > 0).all()


def test_stock_balances_between_snapshots(feeds):
    """on_hand(b) - on_hand(a) = receipts - net sales over (a, b], for every pair and interval."""
    inv = feeds["inventory"].sort_values(["dealer_id", "sku", "snapshot_date"])
    inv["prev_date"] = inv.groupby(["dealer_id", "sku"])["snapshot_date"].shift()
    inv["prev_on_hand"] = inv.groupby(["dealer_id", "sku"])["on_hand"].shift()
    steps = inv.dropna(subset=["prev_date"]).reset_index(drop=True)
    steps["step"] = np.arange(len(steps))

    def flow(events: pd.DataFrame, date_col: str, qty_col: str) -> pd.Series:
        joined = steps.merge(events, on=["dealer_id", "sku"])
        inside = (joined[date_col] > joined["prev_date"]) & (
            joined[date_col] <= joined["snapshot_date"]
        )
        return joined[inside].groupby("step")[qty_col].sum()

    ship = feeds["shipments"].dropna(subset=["received_date"])
    received = flow(ship, "received_date", "qty").reindex(steps["step"], fill_value=0)
    sold = flow(feeds["sell_through"], "date", "qty_sold").reindex(steps["step"], fill_value=0)
    expected = steps["prev_on_hand"].to_numpy() + received.to_numpy() - sold.to_numpy()
    assert len(steps) > 500
    np.testing.assert_array_equal(steps["on_hand"].to_numpy(), expected)


def test_shipments_have_varying_lead_times_and_some_are_in_transit(feeds):
    ship = feeds["shipments"]
    end = feeds["truth"]["date"].max()
    assert ship["shipment_id"].is_unique and (ship["qty"] > 0).all()
    received = ship.dropna(subset=["received_date"])
    assert (received["received_date"] >= received["ship_date"]).all()
    assert (received["received_date"] <= end).all()
    assert (ship["expected_date"] >= ship["ship_date"]).all()
    in_transit = ship[ship["received_date"].isna()]
    assert len(in_transit) > 0 and (in_transit["ship_date"] <= end).all()
    # In transit only because the lead time has not elapsed: shipped in the last weeks.
    assert (in_transit["ship_date"] > end - pd.Timedelta(days=60)).all()
    lead = (received["received_date"] - received["ship_date"]).dt.days
    per_dealer = lead.groupby(received["dealer_id"]).agg(["mean", "std"])
    assert (per_dealer["std"] > 0).all()
    assert per_dealer["mean"].max() - per_dealer["mean"].min() > 1.0


def test_shipment_quantities_respect_pack_size_and_moq(feeds):
    skus = feeds["skus"].assign(
        pack_size=lambda f: f["pack_size"].astype(int), moq=lambda f: f["moq"].astype(int)
    )
    ship = feeds["shipments"].merge(skus[["sku", "pack_size", "moq"]], on="sku")
    assert (ship["qty"] % ship["pack_size"] == 0).all()
    assert (ship["qty"] >= ship["moq"]).all()


def test_late_dealers_feeds_end_earlier(feeds):
    end = feeds["truth"]["date"].max()
    sell_last = feeds["sell_through"].groupby("dealer_id")["date"].max()
    inv_last = feeds["inventory"].groupby("dealer_id")["snapshot_date"].max()
    sell_gap = (end - sell_last).dt.days
    inv_gap = (end - inv_last).dt.days
    late = sell_gap[sell_gap > 0].index
    assert 1 <= len(late) <= 2
    assert sell_gap[late].between(3, 7).all()
    assert inv_gap[late].between(8, 12).all()
    on_time = sell_gap.index.difference(late)
    assert (inv_gap[on_time] == 0).all()
    # The sell-through of on-time dealers may stop a day or two early only by chance (no sale).
    assert (sell_gap[on_time] <= 2).all()


def test_inventory_snapshots_are_sundays_plus_the_last_reporting_day(feeds):
    inv = feeds["inventory"]
    last = inv.groupby("dealer_id")["snapshot_date"].transform("max")
    weekday = inv["snapshot_date"].dt.weekday
    assert ((weekday == 6) | (inv["snapshot_date"] == last)).all()
    assert (inv["on_hand"] >= 0).all()
    assert not inv.duplicated(["dealer_id", "sku", "snapshot_date"]).any()


def test_cross_territory_and_off_price_sales_are_rare_but_present(feeds):
    sales = feeds["sell_through"]
    territory = sales["dealer_id"].map(feeds["dealers"].set_index("dealer_id")["territory"])
    cross = sales["customer_region"] != territory
    assert 0 < cross.sum() < 0.02 * len(sales)
    assert set(sales.loc[cross, "customer_region"]) <= set(feeds["dealers"]["territory"])

    positive = sales[sales["qty_sold"] > 0]
    usual = positive.groupby("sku")["unit_price"].transform("median")
    deviation = (positive["unit_price"] / usual - 1).abs()
    assert 0 < (deviation > 0.3).sum() < 0.01 * len(positive)
    # Everyone else sells close to the usual price.
    assert (deviation <= 0.3).mean() > 0.99


# --- demand process ---------------------------------------------------------------------------


def test_weekend_sells_more_than_midweek(feeds):
    sales = feeds["sell_through"]
    daily = sales[sales["qty_sold"] > 0].groupby("date")["qty_sold"].sum()
    daily = daily.reindex(pd.date_range(daily.index.min(), daily.index.max()), fill_value=0)
    weekday = daily.index.weekday
    weekend = daily[weekday >= 5].mean()
    midweek = daily[(weekday >= 1) & (weekday <= 3)].mean()
    assert weekend > 1.15 * midweek


def test_intermittent_share_and_lumpiness(default_world, feeds):
    for truth in (feeds["truth"], None):
        if truth is None:
            world = default_world
            carried = world.params.carried
            zero_share = (world.demand == 0).mean(axis=2)[carried]
        else:
            zero_share = (truth["demand"] == 0).groupby([truth["dealer_id"], truth["sku"]]).mean()
        share = (np.asarray(zero_share) > 0.5).mean()
        assert 0.2 < share < 0.75
    world = default_world
    zero_share = (world.demand == 0).mean(axis=2)
    assert 0.35 < (zero_share[world.params.carried] > 0.5).mean() < 0.6
    # Slow pairs are labelled as such and really are mostly zero days.
    slow = world.params.is_intermittent
    assert np.median(zero_share[slow]) > 0.7
    assert np.median(zero_share[world.params.carried & ~slow]) < 0.3


def test_demand_is_reproducible_and_matches_its_expected_mean(default_world, feeds):
    world = default_world
    again = true_daily_demand(world.params, world.dates, seed=world.seed)
    np.testing.assert_array_equal(again, world.demand)
    # The world's own stream is what the truth file of the small world holds, too.
    small = build_world(seed=11, **SMALL)
    truth = feeds["truth"]
    assert truth["demand"].sum() == small.replay_demand().sum()

    # Gamma-Poisson: E = mu, Var = mu + mu^2 / k; the grand total is within a few sd.
    mu = expected_daily_demand(world.params, world.dates)
    k = world.params.dispersion[:, :, None]
    var = (mu + mu**2 / k)[np.broadcast_to(world.params.carried[:, :, None], mu.shape)].sum()
    z_score = (world.demand.sum() - mu.sum()) / np.sqrt(var)
    assert abs(z_score) < 5

    other = world.replay_demand(seed=world.seed + 1)
    assert other.shape == world.demand.shape and (other != world.demand).any()
    assert (other[~world.params.carried] == 0).all()


def test_yearly_seasonality_follows_the_category(default_world):
    world = default_world
    month = pd.DatetimeIndex(world.dates).month
    category = world.skus["category"].to_numpy()

    def mean_by(cat: str, months: list[int]) -> float:
        daily = world.demand[:, category == cat, :].sum(axis=(0, 1))
        return daily[np.isin(month, months)].mean()

    assert mean_by("garden", [4, 5, 6]) > 2 * mean_by("garden", [10, 11, 12])
    assert mean_by("snow", [12, 1, 2]) > 2 * mean_by("snow", [6, 7, 8])


def test_new_and_dying_skus(default_world):
    world, params = default_world, default_world.params
    days = world.dates
    launched = np.flatnonzero(~np.isnat(params.launch_date))
    dying = np.flatnonzero(~np.isnat(params.discontinue_date))
    assert len(launched) >= 1 and len(dying) >= 1
    for s in launched:
        before = days < params.launch_date[s]
        assert before.any() and not before.all()
        assert world.demand[:, s, before].sum() == 0
        assert world.demand[:, s, ~before].sum() > 0
    for s in dying:
        after = days >= params.discontinue_date[s]
        assert world.demand[:, s, after].sum() == 0
        decline = days >= params.decline_start[s]
        first, last = world.demand[:, s, ~decline], world.demand[:, s, decline]
        if first.shape[1] and last.shape[1]:
            assert last.mean() < first.mean()


def test_promotions_lift_demand(default_world):
    world, params = default_world, default_world.params
    assert len(params.promo_sku) >= 2
    base = expected_daily_demand(params, world.dates, promotions=False)
    actual = expected_total = 0.0
    for p in range(len(params.promo_sku)):
        window = (world.dates >= params.promo_start[p]) & (world.dates <= params.promo_end[p])
        assert 5 <= window.sum() <= 14
        cells = np.ix_(params.promo_dealers[p], [params.promo_sku[p]], window)
        actual += world.demand[cells].sum()
        expected_total += base[cells].sum()
    assert actual > 1.4 * expected_total


def test_default_world_has_stockouts_but_sells_most_demand(default_world):
    world = default_world
    lost_share = world.supply.lost_sales.sum() / world.demand.sum()
    assert 0.01 < lost_share < 0.15
    assert world.sell_through["date"].max() == pd.Timestamp("2026-11-29")


def test_write_landing_returns_counts_and_accepts_str_paths(tmp_path):
    world = build_world(dealers=2, skus=4, days=30, seed=3)
    counts = write_landing(world, tmp_path / "x")
    assert counts["rows"]["sell_through"] == len(world.sell_through)
    assert counts["rows"]["true_demand"] == int(world.params.carried.sum()) * 30
    assert (tmp_path / "x" / "truth" / "true_demand.parquet").exists()
