"""A failed or killed rerun of a published as-of never damages the published run (issue 14).

End to end with the real `vmi run`: a read-only `--out` fails at once with one line (exit 2)
and touches neither the warehouse nor the folder; a rerun SIGKILLed while it publishes (while
it writes the new folder, and after the folder rename but before the warehouse commit) leaves
the warehouse's published rows equal to the run folder, once the next start has settled it in
the second case. tests/warehouse/test_rerun_property.py checks every fault point and sequence
at the seam; this file keeps the slow, real runs to the cases a person would try.

The kills synchronise on a line printed by a hook the test puts into the rerun's process (in
the report build of the temp folder, or right after the folder rename), never on sleeps.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_crash_safety import ROOT, Run, assert_no_half_written_run_folder

from planner.run_folder import read_run_summary
from warehouse import runs

pytestmark = pytest.mark.slow

# Run `vmi run` after wrapping one step of publish so it announces itself and waits to be killed.
HOOK = """
import sys, threading
import planner.report, planner.run_folder as run_folder

point = sys.argv.pop(1)

def pause():
    sys.__stdout__.write(f"RERUN-HOOK {point}\\n")
    sys.__stdout__.flush()
    threading.Event().wait()  # until the test kills this process

if point == "writing":
    build_report = planner.report.build_report

    def report_then_pause(folder, **kwargs):
        result = build_report(folder, **kwargs)
        if folder.name.startswith(".tmp-"):
            pause()
        return result

    planner.report.build_report = report_then_pause
else:
    replace_dir = run_folder.replace_dir

    def rename_then_pause(temp, target, *, token=None):
        replace_dir(temp, target, token=token)
        if target.parent.name == "runs":
            pause()

    run_folder.replace_dir = rename_then_pause

from flows.cli import app

app()
"""


@pytest.fixture(scope="module")
def first_night(prefect_api, seed5_night, tmp_path_factory):
    """A warehouse and an output folder holding one published night: the run to protect (the
    session's shared night of the seed-5 world, tests/conftest.py)."""
    base = tmp_path_factory.mktemp("rerun")
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(base / "prefect-home"),
        "PYTHONUNBUFFERED": "1",
    }
    return {**seed5_night, "env": env}


@pytest.fixture
def night(first_night, copy_night, tmp_path):
    """A copy of the published night, so that each test reruns it from the same state."""
    return {**first_night, **copy_night(first_night, tmp_path / "night")}


def published_rows(warehouse: Path, as_of: str) -> dict:
    """The warehouse's published run of `as_of`: its id, suggestions and forecasts."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        run_id = runs.published_run(con, pd.Timestamp(as_of).date())
        suggestions = con.execute(
            "select dealer_id, sku, suggested_qty from pipeline.suggestions where run_id = ?",
            [run_id],
        ).df()
        forecasts = con.execute(
            "select dealer_id, sku, week_start, yhat from pipeline.forecasts where run_id = ?",
            [run_id],
        ).df()
    return {"run_id": run_id, **normalised(suggestions, forecasts)}


def folder_rows(folder: Path) -> dict:
    """The same for the run folder on disk."""
    suggestions = pd.read_csv(folder / "suggestions.csv")[["dealer_id", "sku", "suggested_qty"]]
    forecasts = pd.read_csv(folder / "forecast.csv")[["dealer_id", "sku", "week_start", "yhat"]]
    return {"run_id": read_run_summary(folder)["run_id"], **normalised(suggestions, forecasts)}


def normalised(suggestions: pd.DataFrame, forecasts: pd.DataFrame) -> dict:
    """Sorted row tuples: ids as text, dates as ISO days, numbers as floats."""
    forecasts = forecasts.assign(week_start=forecasts["week_start"].astype(str).str.slice(0, 10))

    def rows(frame: pd.DataFrame, value: str) -> list[tuple]:
        keys = [frame[c].astype(str) for c in frame.columns if c != value]
        return sorted(zip(*keys, frame[value].astype(float).round(9), strict=True))

    return {"suggestions": rows(suggestions, "suggested_qty"), "forecast": rows(forecasts, "yhat")}


def run_statuses(warehouse: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select run_id, status from pipeline.runs order by started_at"
        ).fetchall()


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` but OUT/data_docs/ (GX Data Docs, rebuilt by each ingest)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] != "data_docs"
    }


def set_writable(folder: Path, writable: bool) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = 0o755 if path.is_dir() else 0o644
        path.chmod(mode if writable else mode & ~0o222)


def without_dac_override() -> None:
    """preexec_fn: drop the capability that lets root write into read-only folders."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override = 24, 1
    if libc.prctl(pr_capbset_drop, cap_dac_override, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")


def can_drop_dac_override() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "pass"], preexec_fn=without_dac_override, capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.parametrize("blocked", ["out", "as_of_folder", "as_of_folder_found_late"])
def test_a_read_only_out_fails_at_once_and_keeps_the_published_run(night, blocked):
    """The whole --out read-only, or only the run folder the rerun would replace: known up
    front with --as-of, or (without) once the as-of is resolved from the feeds, before dbt."""
    as_root = os.geteuid() == 0
    if as_root and not can_drop_dac_override():
        pytest.skip("root writes read-only folders and cannot give that up here")
    warehouse, out, folder = night["warehouse"], night["out"], night["folder"]
    before = published_rows(warehouse, night["as_of"])
    assert before == folder_rows(folder) and before["suggestions"] and before["forecast"]
    statuses, files = run_statuses(warehouse), tree_digest(out)
    read_only = out if blocked == "out" else folder
    as_of = ["--as-of", night["as_of"]] if blocked == "as_of_folder" else []
    late = blocked == "as_of_folder_found_late"

    set_writable(read_only, False)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli", "run", "--landing", str(night["landing"]),
             "--warehouse", str(warehouse), "--out", str(out), *as_of],
            cwd=ROOT, env=night["env"], capture_output=True, text=True, timeout=300,
            preexec_fn=without_dac_override if as_root else None,
        )  # fmt: skip
    finally:
        set_writable(read_only, True)

    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 or late, done.stderr  # late: among the flow run's own log lines
    [reason] = [line for line in lines if line.startswith("vmi: ")]
    assert reason.startswith("vmi: --out: ") and "not a writable folder" in reason, reason
    if late:  # the rerun had started: it failed after its ingest, before dbt
        assert run_statuses(warehouse)[:-1] == statuses
        assert run_statuses(warehouse)[-1][1] == "failed"
        stages = [line.split()[0] for line in lines if line[:1].isalpha() and line[:4] != "vmi:"]
        assert stages == ["ingest", "data"], done.stderr  # its stage lines: none for dbt
    else:  # refused before the flow started: not even a `running` row
        assert run_statuses(warehouse) == statuses
    assert tree_digest(out) == files
    assert published_rows(warehouse, night["as_of"]) == before == folder_rows(folder)


@pytest.mark.parametrize("point", ["writing", "renamed"])
def test_sigkill_during_publish_keeps_the_published_rows_equal_to_the_folder(night, point):
    from flows.settings import RunSettings
    from flows.tasks import begin_run

    warehouse, out, folder = night["warehouse"], night["out"], night["folder"]
    before = published_rows(warehouse, night["as_of"])
    assert before == folder_rows(folder)
    first_id = before["run_id"]

    run = Run(night["landing"], warehouse, out, night["env"], python_args=("-c", HOOK, point))
    run.wait_for(re.compile(rf"^RERUN-HOOK {point}$"))
    assert run.kill() == -signal.SIGKILL
    assert_no_half_written_run_folder(out)
    [(_, first_status), (rerun_id, rerun_status)] = run_statuses(warehouse)
    assert (first_status, rerun_status) == ("published", "running")
    # Until the rerun's commit the warehouse still publishes the first run, every row of it.
    assert published_rows(warehouse, night["as_of"]) == before
    if point == "writing":  # killed before the rename: the folder is the first run's too
        assert folder_rows(folder) == before
    else:  # killed after the rename: the folder is the rerun's, complete
        assert read_run_summary(folder)["run_id"] == rerun_id
        assert (folder / "report.html").is_file()

    # The next start settles the killed rerun: rolled back, or published from its folder.
    settings = RunSettings.from_args(night["landing"], warehouse, out)
    begin_run.fn(settings, "next-start")
    after = published_rows(warehouse, night["as_of"])
    assert after == folder_rows(folder)
    assert after["suggestions"] and after["forecast"]
    statuses = dict(run_statuses(warehouse))
    if point == "writing":
        assert after == before
        assert statuses == {first_id: "published", rerun_id: "failed", "next-start": "running"}
    else:
        assert after["run_id"] == rerun_id
        assert statuses == {first_id: "replaced", rerun_id: "published", "next-start": "running"}
