"""The run folder contract: paths, the atomic folder swap, publish and the readers."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from planner.run_folder import (
    TABLES,
    atomic_dir,
    clean_leftovers,
    latest_run,
    publish_run,
    read_run_summary,
    read_run_table,
    run_dir,
    runs_root,
)
from replenishment.alerts import ALERT_COLUMNS
from replenishment.policy import SUGGESTION_COLUMNS

AS_OF = date(2025, 6, 30)


def test_paths(tmp_path: Path) -> None:
    assert runs_root(tmp_path) == tmp_path / "runs"
    assert run_dir(tmp_path, AS_OF) == tmp_path / "runs" / "2025-06-30"
    assert run_dir(tmp_path, "2025-06-30") == run_dir(tmp_path, AS_OF)
    # The CSV columns are those the producing modules declare, not a copy.
    assert TABLES["suggestions"] == SUGGESTION_COLUMNS
    assert TABLES["alerts"] == ALERT_COLUMNS


def test_publish_replaces_a_run_and_cleans_leftovers(tmp_path: Path) -> None:
    runs = runs_root(tmp_path)
    killed = runs / ".tmp-2025-06-30--killed"
    killed.mkdir(parents=True)
    frame = pd.DataFrame({"dealer_id": ["007"], "sku": ["NA"]})
    seen_in_temp = []

    def finish(temp: Path) -> None:
        seen_in_temp.append(sorted(p.name for p in temp.iterdir()))
        (temp / "report.html").write_text("page")

    first = publish_run(tmp_path, AS_OF, "run-1", {"items": frame}, {"run_id": "run-1"})
    assert not killed.exists()
    second = publish_run(
        tmp_path, AS_OF, "run-2", {"items": frame}, {"run_id": "run-2"}, finish=finish
    )
    assert first == second == run_dir(tmp_path, AS_OF)
    assert seen_in_temp == [["items.csv", "run_summary.json"]]
    assert read_run_summary(second) == {"run_id": "run-2"}
    assert (second / "report.html").read_text() == "page"
    assert sorted(p.name for p in runs.iterdir()) == ["2025-06-30"]
    items = read_run_table(second, "items")
    assert items.loc[0, ["dealer_id", "sku"]].tolist() == ["007", "NA"]  # ids stay text


def test_a_failed_write_leaves_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "orders"
    target.mkdir()
    (target / "D1.csv").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target, token="a1") as temp:
        (temp / "D1.csv").write_text("new")
        raise RuntimeError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["orders"]
    assert (target / "D1.csv").read_text() == "old"
    with atomic_dir(target, token="a2") as temp:
        (temp / "D2.csv").write_text("new")
    assert [p.name for p in target.iterdir()] == ["D2.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["orders"]


def test_a_crash_between_the_renames_is_repaired(tmp_path: Path) -> None:
    runs = runs_root(tmp_path)
    parked = runs / ".old-2025-06-30--run-1"  # the only copy: the target is missing
    parked.mkdir(parents=True)
    (parked / "run_summary.json").write_text(json.dumps({"run_id": "run-1"}))
    stale = runs / ".old-2025-06-23--run-0"  # its target exists: stale
    stale.mkdir()
    (runs / "2025-06-23").mkdir()
    clean_leftovers(runs)
    assert sorted(p.name for p in runs.iterdir()) == ["2025-06-23", "2025-06-30"]
    assert read_run_summary(runs / "2025-06-30") == {"run_id": "run-1"}


def test_latest_run_ignores_other_folders(tmp_path: Path) -> None:
    assert latest_run(tmp_path) is None
    for name in ("2025-06-23", "2025-06-30", ".tmp-2025-07-07--x", "latest", "2025-07-07.bak"):
        (runs_root(tmp_path) / name).mkdir(parents=True)
    (runs_root(tmp_path) / "2025-07-14").write_text("a file, not a run")
    assert latest_run(tmp_path) == run_dir(tmp_path, AS_OF)


def test_runs_of_one_landing_give_the_same_bytes_whatever_the_sum_order(tmp_path):
    from planner.run_folder import publish_run

    # 0.1 + 0.2 and 0.3 differ in the 17th digit, like a parallel sum in another order
    noisy = pd.DataFrame({"dealer_id": ["D1"], "sku": ["S1"], "lead_time_sd_days": [0.1 + 0.2]})
    clean = noisy.assign(lead_time_sd_days=[0.3])
    first = publish_run(tmp_path / "a", date(2025, 6, 30), "r", {"suggestions": noisy}, {})
    second = publish_run(tmp_path / "b", date(2025, 6, 30), "r", {"suggestions": clean}, {})
    assert (first / "suggestions.csv").read_bytes() == (second / "suggestions.csv").read_bytes()


def test_run_tables_are_safe_to_open_in_a_spreadsheet_and_read_back_as_they_were(tmp_path):
    from planner.run_folder import publish_run, read_run_table

    hostile = '=HYPERLINK("http://evil.example","click")'
    items = pd.DataFrame({"dealer_id": ["D1"], "sku": ["-S1"], "dealer_name": [hostile]})
    folder = publish_run(tmp_path, date(2025, 6, 30), "r", {"items": items}, {})
    text = (folder / "items.csv").read_text()
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    assert "'-S1" in text
    back = read_run_table(folder, "items")
    assert back.loc[0, "dealer_name"] == hostile and back.loc[0, "sku"] == "-S1"
