"""End to end: the nightly flow on a generated world, against a real Prefect API, DuckDB and dbt."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

SUGGESTION_COLUMNS = (
    "run_id, as_of, dealer_id, sku, on_hand, in_transit, on_order, inventory_position, "
    "avg_daily_demand, demand_class, forecast_model, lead_time_days, lead_time_sd_days, "
    "review_period_days, protection_days, demand_over_protection, sigma_over_protection, "
    "service_level, z, safety_stock, order_up_to, raw_need, pack_size, moq, suggested_qty, reason"
).split(", ")
ALERT_COLUMNS = (
    "run_id, as_of, alert_type, severity, dealer_id, sku, metric, threshold, message".split(", ")
)
QUARANTINE_COLUMNS = "run_id, source_file, line, rule, column, value, raw_record".split(", ")
FORECAST_COLUMNS = "dealer_id, sku, week_start, yhat, yhat_lo, yhat_hi, model".split(", ")
ACTION_COLUMNS = "dealer_id, sku, action, qty, value, cost, reason".split(", ")
TIER_PROPOSAL_COLUMNS = (
    "dealer_id, current_tier, proposed_tier, rebate_rate, credit_limit, reason".split(", ")
)


# Published CSV floats are rounded to 9 decimals (planner.run_folder.FLOAT_DECIMALS), so a value
# recomputed from other published columns agrees to about 1e-9 x their size, not to the last bit.
PUBLISHED = 1e-6
CORRUPTED_FILE = "sell_through/D001_corrected.csv"
BROKEN_FILE = "sell_through/D002_broken.parquet"


def reason_credit(reasons: pd.Series) -> pd.Series:
    """The lost-sales credit each reason names (to 1 decimal; 0 where it names none)."""
    credit = reasons.str.extract(r"; lost-sales credit ([0-9.]+) ", expand=False)
    return credit.astype(float).fillna(0.0)


def corrupt_one_feed(landing: Path) -> None:
    """One partly bad CSV (a non-number, an unknown SKU) and one unreadable Parquet file."""
    source = sorted((landing / "sell_through").glob("D001_*.csv"))[-1]
    lines = source.read_text().splitlines()
    header = lines[0].split(",")
    qty_col, sku_col = header.index("qty_sold"), header.index("sku")
    bad_qty = lines[1].split(",")
    bad_qty[qty_col] = "lots"
    bad_sku = lines[2].split(",")
    bad_sku[sku_col] = "NO-SUCH-SKU"
    lines = [lines[0], ",".join(bad_qty), ",".join(bad_sku), lines[3]]
    (landing / CORRUPTED_FILE).write_text("\n".join(lines) + "\n")
    (landing / BROKEN_FILE).write_bytes(b"PAR1 this is not a parquet file at all")


@pytest.fixture(scope="module")
def first_run(prefect_api, small_landing, tmp_path_factory):
    from flows.nightly import nightly_replenishment

    base = tmp_path_factory.mktemp("run")
    landing = base / "landing"
    shutil.copytree(small_landing, landing)
    corrupt_one_feed(landing)
    warehouse = base / "warehouse.duckdb"
    out = base / "out"
    # The default: plain dbt. Per-node dbt tasks (VMI_DBT_NODES_AS_TASKS=1) run in
    # tests/flows/test_dbt_per_node.py, on a few nodes, and over every node in bench_dbt.py.
    folder = nightly_replenishment(landing=str(landing), warehouse=str(warehouse), out=str(out))
    # Later tests rerun into the same folder; keep what the first run published.
    shutil.copytree(folder, base / "first_run")
    return Path(folder), landing, warehouse, out


def test_run_publishes_every_output_with_design_columns(first_run):
    folder, landing, _, _ = first_run
    for name in (
        "suggestions.csv",
        "alerts.csv",
        "quarantine.csv",
        "forecast.csv",
        "run_summary.json",
        "report.html",
    ):
        assert (folder / name).is_file(), name
    assert list(pd.read_csv(folder / "suggestions.csv").columns) == SUGGESTION_COLUMNS
    assert list(pd.read_csv(folder / "alerts.csv").columns) == ALERT_COLUMNS
    assert list(pd.read_csv(folder / "quarantine.csv").columns) == QUARANTINE_COLUMNS
    assert list(pd.read_csv(folder / "forecast.csv").columns) == FORECAST_COLUMNS
    # DESIGN.md "Dealer management": the run outputs lead with the contract columns.
    actions = pd.read_csv(folder / "actions.csv")
    assert list(actions.columns[2:9]) == ACTION_COLUMNS
    assert set(actions["action"]) <= {"transfer", "markdown", "return"}
    tiers = pd.read_csv(folder / "tier_proposals.csv", dtype={"dealer_id": str})
    assert list(tiers.columns[2:8]) == TIER_PROPOSAL_COLUMNS
    dealers = pd.read_csv(landing / "master" / "dealers.csv", dtype={"dealer_id": str})
    assert sorted(tiers["dealer_id"]) == sorted(dealers["dealer_id"])
    # The default as-of is the newest date in the feeds.
    newest = max(
        pd.concat(
            [
                pd.read_csv(p) if p.suffix == ".csv" else pd.read_parquet(p)
                for p in (landing / "sell_through").iterdir()
                if p.name != Path(BROKEN_FILE).name
            ]
        )["date"].astype(str)
    )
    assert folder.name == newest


def test_summary_accounts_for_every_row_and_file(first_run):
    folder, landing, _, _ = first_run
    summary = json.loads((folder / "run_summary.json").read_text())
    assert set(summary) >= {"run_id", "as_of", "files", "stages", "alerts"}
    landing_files = {
        str(p.relative_to(landing))
        for p in landing.rglob("*")
        if p.is_file()
        and p.parts[len(landing.parts)] in {"master", "sell_through", "inventory", "shipments"}
    }
    assert {f["path"] for f in summary["files"]} == landing_files
    for f in summary["files"]:
        assert f["rows_read"] == f["rows_accepted"] + f["rows_quarantined"], f
        assert f["status"] in {"accepted", "partial", "rejected", "duplicate"}
    stage_names = [s["name"] for s in summary["stages"]]
    assert stage_names[:4] == ["ingest_validate", "data_docs", "dbt_core", "forecast"]
    # GX Data Docs of the run's validations, linked from the summary.
    assert summary["data_docs"] and Path(summary["data_docs"]).is_file()
    alerts = pd.read_csv(folder / "alerts.csv")
    assert summary["alerts"] == alerts["alert_type"].value_counts().to_dict()


def test_suggestions_follow_the_policy_and_cover_active_pairs(first_run):
    folder, _, warehouse, _ = first_run
    s = pd.read_csv(folder / "suggestions.csv")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        active = con.execute(
            "select count(*) from marts.dim_dealer_skus where is_active"
        ).fetchone()[0]
    assert len(s) == active and not s.duplicated(["dealer_id", "sku"]).any()
    assert (s["suggested_qty"] >= 0).all()
    ordered = s[s["suggested_qty"] > 0]
    assert len(ordered) > 0
    assert ((ordered["suggested_qty"] % ordered["pack_size"]) == 0).all()
    assert (ordered["suggested_qty"] >= ordered["moq"]).all()
    # published floats carry 9 decimals (planner.run_folder.FLOAT_DECIMALS): equal to that
    assert np.allclose(
        s["protection_days"], s["lead_time_days"] + s["review_period_days"], rtol=0, atol=2e-9
    )
    ip = s["on_hand"] + s["in_transit"] + s["on_order"]
    assert (s["inventory_position"] - ip).abs().max() < 1e-6
    # Lost sales (the default policy): the reason names the credit the need leaves out.
    credit = reason_credit(s["reason"])
    expected_need = (s["order_up_to"] - s["inventory_position"] - credit).clip(lower=0)
    assert (s["raw_need"] - expected_need).abs().max() < 0.05 + 1e-6  # the reason's 1 decimal
    assert ((credit == 0) | (s["inventory_position"] < s["order_up_to"])).all()
    assert s["reason"].str.len().min() > 20


def test_stale_dealers_raise_alert_and_say_so_in_reason(first_run):
    folder, _, _, _ = first_run
    alerts = pd.read_csv(folder / "alerts.csv")
    stale = alerts[alerts["alert_type"] == "stale_feed"]
    assert not stale.empty  # the generated world has late reporters
    s = pd.read_csv(folder / "suggestions.csv")
    for dealer in stale["dealer_id"].unique():
        assert s.loc[s["dealer_id"] == dealer, "reason"].str.contains("stale|old", case=False).all()


def test_rerun_same_landing_counts_files_once_and_gives_same_suggestions(first_run):
    from flows.nightly import nightly_replenishment

    folder, landing, warehouse, out = first_run
    before = pd.read_csv(folder / "suggestions.csv")
    as_of = date.fromisoformat(folder.name)
    again = Path(
        nightly_replenishment(
            landing=str(landing), warehouse=str(warehouse), out=str(out), as_of=as_of
        )
    )
    assert again == folder
    summary = json.loads((again / "run_summary.json").read_text())
    statuses = {f["path"]: f["status"] for f in summary["files"]}
    # Rejected content was never ingested, so it is looked at (and rejected) again.
    assert statuses.pop(BROKEN_FILE) == "rejected"
    assert set(statuses.values()) == {"duplicate"}
    after = pd.read_csv(again / "suggestions.csv")
    cols = ["dealer_id", "sku", "suggested_qty", "order_up_to", "inventory_position"]
    pd.testing.assert_frame_equal(before[cols], after[cols])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        per_as_of = con.execute(
            "select count(distinct run_id) from pipeline.suggestions where as_of = ?", [as_of]
        ).fetchone()[0]
    assert per_as_of == 1  # the rerun replaced the earlier run's rows
    with duckdb.connect(str(warehouse), read_only=True) as con:
        kpi_runs = con.execute(
            "select count(distinct run_id), count(*) from reporting.rpt_dealer_kpis "
            "where as_of_date = ?",
            [as_of],
        ).fetchall()[0]
        dealers = con.execute("select count(*) from marts.fct_dealer_kpis").fetchall()[0][0]
    assert kpi_runs == (1, dealers)  # dealer KPIs kept per run, one run per as-of


def test_failed_dbt_test_fails_the_run_and_publishes_nothing(first_run, tmp_path):
    from flows.nightly import nightly_replenishment

    folder, landing, warehouse, _ = first_run
    bad_wh = tmp_path / "wh.duckdb"
    shutil.copy(warehouse, bad_wh)
    with duckdb.connect(str(bad_wh)) as con:
        # A negative stock row that slipped past validation must be stopped by dbt's data tests.
        con.execute(
            "insert into raw.inventory select dealer_id, sku, snapshot_date, -5, file_sha256, "
            "source_file, line, delivery_seq, run_id, loaded_at from raw.inventory limit 1"
        )
    out = tmp_path / "out"
    with pytest.raises(Exception, match="dbt"):
        nightly_replenishment(
            landing=str(landing),
            warehouse=str(bad_wh),
            out=str(out),
            as_of=date.fromisoformat(folder.name),
        )
    assert not (out / "runs" / folder.name).exists()
    with duckdb.connect(str(bad_wh), read_only=True) as con:
        statuses = dict(
            con.execute("select status, count(*) from pipeline.runs group by 1").fetchall()
        )
    assert statuses.get("failed") == 1


def test_approved_unshipped_lines_count_as_on_order_next_night(first_run, tmp_path):
    """Two nights in a row never order the same need twice."""
    from datetime import timedelta

    from flows.nightly import nightly_replenishment
    from planner.approve import approve_run
    from planner.run_folder import run_dir

    folder, landing, warehouse, out = first_run
    # The first night is the module's published one: a copy of its warehouse and output folder.
    wh = tmp_path / "wh.duckdb"
    shutil.copy(warehouse, wh)
    shutil.copytree(out, tmp_path / "out")
    out = tmp_path / "out"
    day1 = date.fromisoformat(folder.name)
    run1 = run_dir(out, day1)
    approve_run(out, day1, None, approved_by="planner", warehouse=wh)
    first = pd.read_csv(run1 / "suggestions.csv").set_index(["dealer_id", "sku"])
    assert (run1 / "orders").is_dir() and any((run1 / "orders").iterdir())

    # No shipment has left since the approval: the next night sees it as on order.
    run2 = Path(
        nightly_replenishment(
            landing=str(landing), warehouse=str(wh), out=str(out), as_of=day1 + timedelta(days=1)
        )
    )
    second = pd.read_csv(run2 / "suggestions.csv").set_index(["dealer_id", "sku"])
    both = first.join(second, lsuffix="_1", rsuffix="_2", how="inner")
    assert len(both) == len(first)
    pd.testing.assert_series_equal(
        both["on_order_2"], both["on_order_1"] + both["suggested_qty_1"], check_names=False
    )
    # What is left to order is the growth of the order-up-to level plus any need the first
    # order could not cover (a max_qty override), never the old need again. The approved order
    # is not on the shelf before it arrives, so the lost-sales credit (in the reasons, to 1
    # decimal) stays; it moves only with the forecast a day later.
    growth = (both["order_up_to_2"] - both["order_up_to_1"]).clip(lower=0)
    uncovered = (both["raw_need_1"] - both["suggested_qty_1"]).clip(lower=0)
    credit = {night: reason_credit(both[f"reason_{night}"]) for night in (1, 2)}
    shrunk = (credit[1] - credit[2]).clip(lower=0) + 0.1 * (credit[1] > 0)
    assert (both["raw_need_2"] <= growth + uncovered + shrunk + 1e-6).all()
    assert both["suggested_qty_2"].sum() < 0.5 * both["suggested_qty_1"].sum()


def test_every_suggestion_recomputes_from_its_own_columns(first_run):
    """Recompute each line independently with scipy: z, sigma over P, order-up-to, rounding."""
    from scipy import stats

    from tests.replenishment.whole_units import whole_unit_level

    folder, landing, warehouse, _ = first_run
    s = pd.read_csv(folder / "suggestions.csv")
    overrides = pd.read_csv(landing / "master" / "dealer_skus.csv")
    overrides.columns = [c.strip().lower() for c in overrides.columns]
    s = s.merge(
        overrides[["dealer_id", "sku", "min_qty", "max_qty", "service_level"]],
        on=["dealer_id", "sku"],
        how="left",
        suffixes=("", "_override"),
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        sigma_week = con.execute(
            "select dealer_id, sku, sigma from pipeline.forecast_accuracy where run_id = ?",
            [s["run_id"].iloc[0]],
        ).df()
    s = s.merge(sigma_week, on=["dealer_id", "sku"], how="left")

    overridden = s["service_level_override"].notna()
    assert (s.loc[overridden, "service_level"] == s.loc[overridden, "service_level_override"]).all()
    P = s["lead_time_days"] + s["review_period_days"]
    assert np.allclose(s["protection_days"], P)
    assert np.allclose(
        s["demand_over_protection"], s["avg_daily_demand"] * P, rtol=1e-9, atol=PUBLISHED
    )
    assert np.allclose(s["z"], stats.norm.ppf(s["service_level"]))
    sigma_d = s["sigma"].fillna(0) / np.sqrt(7)
    sigma_p = np.sqrt(P * sigma_d**2 + s["avg_daily_demand"] ** 2 * s["lead_time_sd_days"] ** 2)
    assert np.allclose(s["sigma_over_protection"], sigma_p, rtol=1e-9, atol=PUBLISHED)

    D = s["demand_over_protection"]

    def level(row, sig: float) -> float:
        """The order-up-to level, solved here with scipy: with packs of q the position after
        ordering is spread over q whole units, and the level is set so that the service
        averaged over them meets the target (normal: Brent's root of the service over whole
        positions from ceil(x), i.e. over [x, x + q), of whole-unit demand, continuity
        corrected; counts: the whole level whose averaged service is nearest the target)."""
        d, sl, q, v = row.demand_over_protection, row.service_level, int(row.pack_size), sig**2
        if "Poisson" in row.reason or "negative binomial" in row.reason:
            if "Poisson" in row.reason:
                dist = stats.poisson(d)
            else:
                dist = stats.nbinom(d**2 / (v - d), d / v)

            def service(y: float) -> float:
                return float(np.mean(dist.cdf(y + np.arange(q))))

            y = dist.ppf(sl)
            while service(y - 1) >= sl:
                y -= 1
            return y - 1 if abs(service(y - 1) - sl) < abs(service(y) - sl) else y
        return d if sig == 0 else whole_unit_level(d, sig, q, sl)

    out = np.array([level(row, sig) for row, sig in zip(s.itertuples(), sigma_p, strict=True)])
    # Safety stock is the policy's own cover above the forecast, before any min override.
    assert np.allclose(s["safety_stock"], out - D, rtol=1e-9, atol=PUBLISHED)
    out = np.where(s["min_qty"].notna() & (s["min_qty"] > out), s["min_qty"], out)
    assert np.allclose(s["order_up_to"], out, rtol=1e-9, atol=PUBLISHED)
    # Lost sales (the default): the need leaves out the credit the reason names (to 1 decimal);
    # tests/replenishment/test_lost_sales.py checks the credit itself against scipy.
    credit = reason_credit(s["reason"]).to_numpy()
    raw = np.maximum(0.0, out - s["inventory_position"] - credit)
    # (a credit under 0.05 shows as none)
    assert np.allclose(s["raw_need"], raw, rtol=0, atol=0.05 + PUBLISHED)
    raw = s["raw_need"].to_numpy()  # the quantity follows from the need checked just above

    pack, moq = s["pack_size"], s["moq"]
    packs = np.ceil(raw / pack - 1e-9) * pack
    moq_units = np.ceil(moq / pack - 1e-9) * pack
    qty = np.where(packs > 0, np.maximum(packs, moq_units), 0)
    room = np.maximum(0, np.floor((s["max_qty"] - s["inventory_position"]) / pack + 1e-9) * pack)
    capped = s["max_qty"].notna() & (qty > room)
    qty = np.where(capped, np.where(room < moq_units, 0, room), qty)
    mismatched = s[s["suggested_qty"] != qty]
    assert mismatched.empty, mismatched[["dealer_id", "sku", "raw_need", "suggested_qty", "reason"]]


def test_a_corrupted_feed_is_quarantined_and_the_rest_still_publishes(first_run):
    folder = first_run[0].parents[2] / "first_run"
    summary = json.loads((folder / "run_summary.json").read_text())
    files = {f["path"]: f for f in summary["files"]}
    partial = files[CORRUPTED_FILE]
    assert partial["status"] == "partial"
    assert (partial["rows_read"], partial["rows_accepted"], partial["rows_quarantined"]) == (
        3,
        1,
        2,
    )
    broken = files[BROKEN_FILE]
    assert broken["status"] == "rejected" and "D002_broken.parquet" in broken["reason"]
    quarantine = pd.read_csv(folder / "quarantine.csv")
    mine = quarantine[quarantine["source_file"] == CORRUPTED_FILE].sort_values("line")
    assert mine["line"].tolist() == [2, 3]
    assert mine["column"].tolist() == ["qty_sold", "sku"]
    assert mine["value"].tolist() == ["lots", "NO-SUCH-SKU"]
    alerts = pd.read_csv(folder / "alerts.csv")
    assert (alerts["alert_type"] == "feed_rejected").sum() >= 1
    others = [f for p, f in files.items() if p not in (CORRUPTED_FILE, BROKEN_FILE)]
    assert others and all(f["status"] == "accepted" for f in others)
