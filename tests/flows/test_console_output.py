"""What `vmi run` prints by default: one line per stage, warnings that need a person, the
outputs; no Prefect or dbt log lines and no third-party noise, while the Prefect API still
receives the flow's logs. The run also leaves the checkout's GX project untouched.

One real `vmi run` (on the session's small world and Prefect server) for the whole module;
--verbose is exercised by tests/flows/test_crash_safety.py, whose kills wait on Prefect's and
dbt's log lines. The rendering itself is checked on hand-made records.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from planner import console

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
GX_UNCOMMITTED = ROOT / "expectations" / "gx" / "uncommitted"
STAGES = ["ingest", "data docs", "dbt core", "forecast", "replenish", "dbt report", "tables"]
NOISE = ("Prefect", "prefect", "Task run", "Flow run", "| INFO", "dbt=", "Running with dbt",
         "nanobind", "leaked", "Traceback", "Warning", "warn(")  # fmt: skip
STAGE_LINE = re.compile(r"^(?P<label>[a-z]+(?: [a-z]+)?) +(?P<text>.+?) +(?P<seconds>\d+\.\d) s$")


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


@pytest.fixture(scope="module")
def quiet_run(prefect_api, small_landing, tmp_path_factory):
    base = tmp_path_factory.mktemp("console")
    before = tree(GX_UNCOMMITTED)
    # The default plain dbt; per-node dbt under the quiet console: test_dbt_per_node.
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_HOME": str(base / "prefect-home")}
    for name in console.QUIET_ENV:  # the defaults `vmi run` sets, not the caller's shell
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--landing", str(small_landing),
         "--warehouse", str(base / "warehouse.duckdb"), "--out", str(base / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    [folder] = (base / "out" / "runs").iterdir()
    summary = json.loads((folder / "run_summary.json").read_text())
    return {"done": done, "folder": folder, "summary": summary, "base": base,
            "gx_before": before, "landing": small_landing}  # fmt: skip


def test_default_output_is_one_line_per_stage_and_nothing_else(quiet_run):
    done, folder = quiet_run["done"], quiet_run["folder"]
    lines = done.stderr.splitlines()
    stage_lines = [line for line in lines if not line.startswith("  ! ")]
    matches = [STAGE_LINE.match(line) for line in stage_lines]
    assert all(matches), done.stderr
    assert [m["label"] for m in matches] == STAGES
    assert len(lines) <= len(STAGES) + 3, done.stderr  # at most a few warnings
    for noise in NOISE:
        assert noise not in done.stderr + done.stdout, f"{noise!r} on the console"
    # The final lines, as before: the run folder and its main files.
    assert done.stdout.splitlines() == [f"outputs: {folder}"] + [
        f"  {folder / name}"
        for name in ("suggestions.csv", "alerts.csv", "report.html", "run_summary.json")
    ]
    # Each stage line shows the seconds the run recorded for that stage.
    recorded = [round(stage["seconds"], 1) for stage in quiet_run["summary"]["stages"]]
    assert [float(m["seconds"]) for m in matches] == pytest.approx(recorded, abs=0.051)


def test_stage_lines_count_what_the_run_did(quiet_run):
    matches = [STAGE_LINE.match(line) for line in quiet_run["done"].stderr.splitlines()]
    text = {m["label"]: m["text"] for m in matches if m}
    landing, folder = quiet_run["landing"], quiet_run["folder"]
    feed_files = [p for d in ("master", "sell_through", "inventory", "shipments")
                  for p in (landing / d).iterdir() if not p.name.startswith(".")]  # fmt: skip
    quarantined = pd.read_csv(folder / "quarantine.csv")  # one row per quarantined row
    assert text["ingest"].startswith(f"{len(feed_files)} files  ")
    assert text["ingest"].endswith(f" rows accepted, {len(quarantined)} quarantined"), text
    forecast = pd.read_csv(folder / "forecast.csv")
    assert text["forecast"] == f"{len(forecast[['dealer_id', 'sku']].drop_duplicates())} series"
    suggestions = pd.read_csv(folder / "suggestions.csv")
    alerts = pd.read_csv(folder / "alerts.csv")
    assert text["replenish"] == f"{len(suggestions)} suggestions, {len(alerts)} alerts"
    stale = alerts.loc[alerts["alert_type"] == "stale_feed", "dealer_id"].nunique()
    warned = [line for line in quiet_run["done"].stderr.splitlines() if "stale feed" in line]
    assert len(warned) == (1 if stale else 0)
    if stale:
        assert warned[0].startswith(f"  ! {stale} dealer")


def test_the_prefect_api_still_gets_the_flow_logs(quiet_run, prefect_api):
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowFilter, LogFilter
    from prefect.client.schemas.sorting import FlowRunSort

    warehouse = str(quiet_run["base"] / "warehouse.duckdb")
    nightly = FlowFilter(name={"any_": ["nightly-replenishment"]})
    with SyncPrefectClient(prefect_api) as client:
        runs = client.read_flow_runs(flow_filter=nightly, sort=FlowRunSort.START_TIME_DESC)
        [run] = [r for r in runs if r.parameters.get("warehouse") == warehouse]
        by_run, logs = LogFilter(flow_run_id={"any_": [run.id]}), []
        while page := client.read_logs(log_filter=by_run, offset=len(logs)):  # pages of 200
            logs += page
    messages = [log.message for log in logs]
    assert any(re.match(r"sell_through/\S+: accepted", m) for m in messages), messages[:20]
    assert any(m.startswith("published ") for m in messages)  # the flow's own print


def test_gx_results_stay_under_out_not_in_the_checkout(quiet_run):
    run_id = quiet_run["summary"]["run_id"]
    new = tree(GX_UNCOMMITTED) - quiet_run["gx_before"]
    assert not new, sorted(new)[:10]
    stored = quiet_run["base"] / "out" / "data_docs" / "validation_results"
    assert {p.parent.parent.name for p in stored.rglob("*.json")} == {run_id}


def test_a_temporary_server_that_does_not_start_is_one_line(small_landing, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    # The server cannot open its database (nothing listens on port 9), so it exits.
    env.update(
        PREFECT_HOME=str(tmp_path / "home"),
        PREFECT_SERVER_DATABASE_CONNECTION_URL="postgresql+asyncpg://u:p@127.0.0.1:9/x",
    )
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--landing", str(small_landing),
         "--warehouse", str(tmp_path / "warehouse.duckdb"), "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 1
    log = tmp_path / "home" / "vmi-logs" / "temporary-server.log"
    assert done.stderr.splitlines() == [
        f"vmi: temporary Prefect server: prefect server exited with code "
        f"{done.stderr.split('code ')[1].split(' ')[0]} (log: {log})"
    ]
    assert log.is_file() and done.stdout == ""


# --- rendering, on hand-made records --------------------------------------------------------


def test_counts_read_like_the_example():
    numbers = (0, 4_928, 99_999, 123_456, 999_999, 9_490_000, 12_345_678_901)
    assert [console.count(n) for n in numbers] == [
        "0", "4,928", "99,999", "123k", "1M", "9.49M", "12.3B"
    ]  # fmt: skip


def test_ingest_line_and_its_warning():
    files = [
        {"status": "accepted", "rows_quarantined": 0},
        {"status": "partial", "rows_quarantined": 2},
        {"status": "partial", "rows_quarantined": 1},
        {"status": "rejected", "rows_quarantined": 0},
    ]
    record = {"name": "ingest_validate", "rows": 9_490_000, "files": files, "seconds": 40.23}
    text, warnings = console.describe(record)
    assert text == "4 files  9.49M rows accepted, 3 quarantined, 1 file rejected"
    assert warnings == [
        "3 files with quarantined rows or rejected: see quarantine.csv and run_summary.json"
    ]
    out = io.StringIO()
    console.Console(out).stage_done(record)
    assert out.getvalue().splitlines() == [
        "ingest      " + text.ljust(52) + "   40.2 s",
        "  ! " + warnings[0],
    ]
    clean = [{"status": "accepted", "rows_quarantined": 0}]
    assert console.describe({**record, "files": clean, "rows": 12}) == (
        "1 file  12 rows accepted, 0 quarantined",
        [],
    )


def test_stale_feeds_and_missing_data_docs_warn_and_nothing_else_does():
    alerts = pd.DataFrame({"alert_type": ["stale_feed", "stale_feed", "stockout_risk"],
                           "dealer_id": ["D1", "D1", "D2"]})  # fmt: skip
    record = {"name": "replenish", "rows": 5, "alerts": alerts}
    assert console.describe(record) == (
        "5 suggestions, 3 alerts",
        ["1 dealer with a stale feed: see alerts.csv"],
    )
    assert console.describe({**record, "alerts": alerts.iloc[2:]})[1] == []
    assert console.describe({"name": "data_docs", "rows": 3, "docs": None})[1] != []
    assert console.describe({"name": "data_docs", "rows": 3, "docs": "index.html"})[1] == []
    assert console.describe({"name": "dbt_core", "rows": 1}) == ("1 dbt node", [])


def test_bars_only_on_a_terminal_and_the_clock_reports_only_when_started():
    assert console.Console(io.StringIO()).bars is False  # not a terminal: no bar
    clock = console.StageClock()
    with clock.stage("forecast") as stage:  # no `vmi run` in this process: prints nothing
        stage["rows"] = len(list(console.track([1, 2, 3])))
    assert clock.stages[0]["rows"] == 3 and clock.current == "after forecast"

    out = io.StringIO()
    console._active[:] = [console.Console(out, bars=True)]
    try:
        with clock.stage("forecast") as stage:
            bar = console._active[0]._progress.tasks[0]
            for done, _ in enumerate(console.track(["a", "b"]), start=1):
                assert (bar.total, bar.completed) == (2, done - 1)
            stage["rows"] = 7
        assert console._active[0]._progress is None  # the bar is gone before the line
        with pytest.raises(KeyError), clock.stage("ingest_validate"):
            raise KeyError("boom")
        assert console._active[0]._progress is None  # a failed stage takes its bar away too
    finally:
        console._active.clear()
    [line] = [line for line in out.getvalue().splitlines() if line.strip()]  # none for a failure
    assert line.startswith("forecast    7 series")


def test_quiet_dbt_logging_still_builds_the_per_node_settings(monkeypatch, tmp_path):
    """VMI_DBT_NODES_AS_TASKS=1 under the quiet console: dbt's `none` is not a prefect-dbt
    level, so the per-node runner's settings take `error` instead of failing the run."""
    from flows.dbt_build import prefect_dbt_settings
    from planner.console import QUIET_ENV

    for name, value in QUIET_ENV.items():
        monkeypatch.setenv(name, value)
    assert str(prefect_dbt_settings(tmp_path).log_level.value) == "error"
    monkeypatch.setenv("DBT_LOG_LEVEL", "debug")  # --verbose, or a developer's own level
    assert str(prefect_dbt_settings(tmp_path).log_level.value) == "debug"
