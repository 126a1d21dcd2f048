"""Run-to-run comparison on two hand-made run folders whose differences are known."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from planner.compare import compare_runs
from planner.run_folder import CHANGE_COLUMNS, find_previous_run

DEFAULTS = {
    "in_transit": 0.0,
    "on_order": 0.0,
    "demand_class": "smooth",
    "forecast_model": "ets",
    "lead_time_days": 7.0,
    "lead_time_sd_days": 1.0,
    "review_period_days": 7.0,
    "service_level": 0.95,
    "pack_size": 1,
    "moq": 1,
    "on_hand": 10.0,
    "avg_daily_demand": 1.0,
    "reason": "r",
}


def write_run(
    root: Path, as_of: str, lines: list[dict], alerts: list[tuple] = (), history: list[tuple] = ()
) -> Path:
    run_dir = root / "runs" / as_of
    run_dir.mkdir(parents=True)
    frame = pd.DataFrame([{**DEFAULTS, **line} for line in lines])
    frame.insert(0, "run_id", f"run-{as_of}")
    frame.insert(1, "as_of", as_of)
    frame.to_csv(run_dir / "suggestions.csv", index=False)
    pd.DataFrame(
        list(alerts), columns=["alert_type", "severity", "dealer_id", "sku", "message"]
    ).to_csv(run_dir / "alerts.csv", index=False)
    pd.DataFrame(list(history), columns=["dealer_id", "sku", "week_start", "qty_sold"]).assign(
        is_censored=False
    ).to_csv(run_dir / "history.csv", index=False)
    (run_dir / "run_summary.json").write_text(
        json.dumps({"run_id": f"run-{as_of}", "as_of": as_of})
    )
    return run_dir


def line(dealer: str, sku: str, qty: float, **values) -> dict:
    return {"dealer_id": dealer, "sku": sku, "suggested_qty": qty, **values}


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    previous = write_run(
        tmp_path,
        "2025-06-23",
        [
            line("D1", "S1", 10, on_hand=5),
            line("D1", "S2", 20, pack_size=10, avg_daily_demand=2.0),
            line("D1", "S3", 8),
            line("D1", "S4", 4),
            line("D1", "S5", 10, pack_size=6),
            line("D2", "S1", 0, pack_size=5),
            line("D2", "S9", 5),
        ],
        alerts=[
            ("stockout", "critical", "D1", "S1", "S1 out of stock, 0 on hand"),
            ("overstock", "info", "D2", "S1", "3x order-up-to"),
            ("feed_rejected", "warning", "", "", "a.csv rejected"),
        ],
        history=[
            ("D1", "S1", "2025-06-09", 4),
            ("D1", "S1", "2025-06-16", 6),
            ("D1", "S2", "2025-06-16", 3),
        ],
    )
    current = write_run(
        tmp_path,
        "2025-06-30",
        [
            line("D1", "S1", 14, on_hand=2),
            line("D1", "S2", 30, pack_size=10, avg_daily_demand=2.5),
            line("D1", "S3", 9, lead_time_days=10.0),
            line("D1", "S4", 5),
            line("D1", "S5", 14, pack_size=6),
            line("D2", "S1", 5, pack_size=5, lead_time_days=10.0),
            line("D2", "S2", 3),
        ],
        alerts=[
            ("stockout", "critical", "D1", "S1", "S1 out of stock, 2 days"),
            ("below_safety_stock", "warning", "D1", "S2", "position below safety stock"),
            ("feed_rejected", "warning", "", "", "b.csv rejected"),
        ],
        history=[
            ("D1", "S1", "2025-06-09", 4),
            ("D1", "S1", "2025-06-16", 6),
            ("D1", "S1", "2025-06-23", 7),
            ("D1", "S2", "2025-06-16", 5),
            ("D1", "S2", "2025-06-23", 0),
        ],
    )
    return previous, current


def test_moved_quantities_and_their_reasons(runs: tuple[Path, Path]) -> None:
    previous, current = runs
    summary, changes = compare_runs(previous, current)
    moved = changes[changes.change_type == "qty_changed"]
    # Largest move first. D1/S3 (+12.5%), D1/S4 (+25%, not more) and D1/S5 (+4 < one pack of 6)
    # stay out.
    assert moved[["dealer_id", "sku", "previous_qty", "current_qty"]].values.tolist() == [
        ["D1", "S2", 20, 30],
        ["D2", "S1", 0, 5],
        ["D1", "S1", 10, 14],
    ]
    reasons = dict(zip(moved.sku + "@" + moved.dealer_id, moved.reasons, strict=True))
    assert set(reasons["S1@D1"].split(";")) == {"new_sales", "new_stock_report"}
    assert set(reasons["S2@D1"].split(";")) == {"new_sales", "restated_sales", "new_forecast"}
    assert reasons["S1@D2"] == "lead_time_changed"
    detail = moved.set_index(["dealer_id", "sku"]).loc[("D1", "S1"), "detail"]
    assert "7 units sold in 1 new week(s) after 2025-06-16" in detail
    assert "on hand 5 -> 2" in detail
    s2 = moved.set_index(["dealer_id", "sku"]).loc[("D1", "S2")]
    assert s2["pct_change"] == pytest.approx(0.5) and s2["qty_delta"] == 10
    assert summary["qty_changed"] == 3
    assert summary["reasons"] == {
        "new_sales": 2,
        "new_stock_report": 1,
        "restated_sales": 1,
        "new_forecast": 1,
        "lead_time_changed": 1,
    }


def test_new_and_cleared_alerts(runs: tuple[Path, Path]) -> None:
    summary, changes = compare_runs(*runs)
    new = changes[changes.change_type == "alert_new"]
    cleared = changes[changes.change_type == "alert_cleared"]
    # The stockout on D1/S1 persists (only its message changed): neither new nor cleared.
    assert sorted(zip(new.alert_type, new.dealer_id, new.sku, strict=True)) == [
        ("below_safety_stock", "D1", "S2"),
        ("feed_rejected", "", ""),
    ]
    assert sorted(zip(cleared.alert_type, cleared.dealer_id, cleared.detail, strict=True)) == [
        ("feed_rejected", "", "a.csv rejected"),
        ("overstock", "D2", "3x order-up-to (lead time days 7 -> 10)"),
    ]
    assert (summary["alerts_new"], summary["alerts_cleared"]) == (2, 2)
    # The new alert carries why its line changed.
    assert "new_forecast" in new[new.sku == "S2"].reasons.iloc[0]


def test_added_and_dropped_lines_and_file(runs: tuple[Path, Path]) -> None:
    previous, current = runs
    summary, changes = compare_runs(previous, current)
    assert changes[changes.change_type == "line_added"][["dealer_id", "sku"]].values.tolist() == [
        ["D2", "S2"]
    ]
    assert changes[changes.change_type == "line_dropped"][["dealer_id", "sku"]].values.tolist() == [
        ["D2", "S9"]
    ]
    assert (summary["lines_added"], summary["lines_dropped"]) == (1, 1)
    assert (
        summary["previous_as_of"] == "2025-06-23" and summary["current_run_id"] == "run-2025-06-30"
    )
    written = pd.read_csv(current / "changes.csv", keep_default_na=False)
    assert list(written.columns) == CHANGE_COLUMNS
    assert len(written) == len(changes) == 2 + 2 + 3 + 1 + 1


def test_threshold_is_a_parameter(runs: tuple[Path, Path]) -> None:
    _, changes = compare_runs(*runs, qty_threshold=0.1)
    moved = changes[changes.change_type == "qty_changed"]
    # 12.5% and 25% now count; D1/S5 still moved less than a pack.
    assert set(moved.sku + "@" + moved.dealer_id) == {"S1@D1", "S2@D1", "S3@D1", "S4@D1", "S1@D2"}


def test_no_previous_run(runs: tuple[Path, Path]) -> None:
    _, current = runs
    summary, changes = compare_runs(None, current)
    assert summary["previous_as_of"] is None and summary["qty_changed"] == 0
    assert changes.empty and list(changes.columns) == CHANGE_COLUMNS
    assert not (current / "changes.csv").exists()


def test_find_previous_run(tmp_path: Path, runs: tuple[Path, Path]) -> None:
    previous, current = runs
    root = previous.parent
    (root / "2025-06-16").mkdir()  # no suggestions.csv: not a published run
    (root / "latest").mkdir()
    write_run(tmp_path, "2025-07-07", [line("D1", "S1", 1)])
    assert find_previous_run(current) == previous
    assert find_previous_run(root / "2025-07-07") == current
    assert find_previous_run(previous) is None
    assert find_previous_run(root / "latest") is None
    # Publish builds the report in a temporary folder beside the published runs; its as-of
    # comes from run_summary.json. A published folder of the same as-of (a rerun) is not
    # "previous".
    building = write_run(tmp_path, ".tmp-run-2025-06-30-b", [line("D1", "S1", 1)])
    (building / "run_summary.json").write_text(json.dumps({"as_of": "2025-06-30"}))
    assert find_previous_run(building) == previous


def write_items(run_dir: Path, costs: dict[tuple[str, str], float]) -> None:
    pd.DataFrame(
        [{"dealer_id": d, "sku": s, "unit_cost": c} for (d, s), c in costs.items()]
    ).to_csv(run_dir / "items.csv", index=False)


def test_changes_are_ranked_by_value_moved(runs: tuple[Path, Path]) -> None:
    previous, current = runs
    # Moves: D1/S2 20 -> 30, D2/S1 0 -> 5, D1/S1 10 -> 14; D2/S2 added (3), D2/S9 dropped (5).
    costs = {("D1", "S1"): 50.0, ("D1", "S2"): 1.0, ("D2", "S1"): 100.0, ("D2", "S2"): 2.0}
    write_items(current, costs)
    write_items(previous, {("D2", "S9"): 7.0})  # a dropped line's cost: the previous run's
    summary, changes = compare_runs(previous, current)
    rows = list(
        zip(changes.change_type, changes.dealer_id, changes.sku, changes.value, strict=True)
    )
    ranked = [(t, d, s, v) for t, d, s, v in rows if v == v]  # valued rows, in file order
    # |delta| x cost: 5 x 100 = 500, 4 x 50 = 200, 10 x 1 = 10, 5 x 7 = 35, 3 x 2 = 6.
    # Alerts: the line's order value, the larger of both runs': D1/S1 14 x 50 = 700 cleared
    # overstock on D2/S1: 5 x 100 = 500; new below_safety_stock on D1/S2: 30 x 1 = 30.
    assert [(t, d, s, round(v, 6)) for t, d, s, v in ranked] == [
        ("qty_changed", "D2", "S1", 500.0),
        ("alert_cleared", "D2", "S1", 500.0),
        ("qty_changed", "D1", "S1", 200.0),
        ("line_dropped", "D2", "S9", 35.0),
        ("alert_new", "D1", "S2", 30.0),
        ("qty_changed", "D1", "S2", 10.0),
        ("line_added", "D2", "S2", 6.0),
    ]
    # Rows without a known value (the file-wide feed_rejected alerts) come last.
    assert changes.value.isna().tolist() == [False] * 7 + [True] * 2
    assert summary["value_moved"] == pytest.approx(710.0)
    written = pd.read_csv(current / "changes.csv", dtype={"dealer_id": str, "sku": str})
    assert written.sku.fillna("").tolist() == changes.sku.tolist()


def test_no_op_changes_are_dropped(tmp_path: Path) -> None:
    """A number that only moved below the shown precision is no reason and no detail."""
    previous = write_run(
        tmp_path,
        "2025-06-23",
        [
            line("D1", "S1", 10, lead_time_sd_days=1.18, on_hand=5.0),
            line("D1", "S2", 4, lead_time_sd_days=1.18, avg_daily_demand=0.5),
        ],
        alerts=[("overstock", "info", "D1", "S2", "3x")],
    )
    current = write_run(
        tmp_path,
        "2025-06-30",
        [
            line("D1", "S1", 20, lead_time_sd_days=1.1803, on_hand=2.0),
            line("D1", "S2", 4, lead_time_sd_days=1.1797, avg_daily_demand=0.5001),
        ],
    )
    summary, changes = compare_runs(previous, current)
    moved = changes[changes.change_type == "qty_changed"].iloc[0]
    assert moved.reasons == "new_stock_report"
    assert moved.detail == "on hand 5 -> 2"
    assert summary["reasons"] == {"new_stock_report": 1}
    # The cleared alert on D1/S2 names no before -> after: nothing of its line moved as shown.
    cleared = changes[changes.change_type == "alert_cleared"].iloc[0]
    assert cleared.detail == "3x" and cleared.reasons == ""
    assert "lead time" not in " ".join(changes.detail)
    assert "demand/day" not in " ".join(changes.detail)
