"""SIGKILL a `vmi run` in the middle of ingest, then in the middle of dbt; the rerun must give
what a clean run on a fresh warehouse gives, and no half-written run folder may ever appear.

The kills synchronise on the run's own log lines (an ingest progress line, a dbt model line),
never on sleeps; a bounded deadline only turns a hang into a failure. Those are Prefect's and
dbt's console logs, which `vmi run` shows with --verbose only: waiting on them checks that
--verbose gives that detail (tests/flows/test_console_output.py checks the quiet default).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 600
SUGGESTION_KEYS = ["dealer_id", "sku", "suggested_qty", "order_up_to", "inventory_position"]
RAW_TABLES = (
    "dealers",
    "skus",
    "dealer_skus",
    "sell_through",
    "inventory",
    "shipments",
    "file_ledger",
    "quarantine",
)
# The ingest task logs one line per file (Prefect's task-run format); master files come first,
# so a sell-through line means master data is committed and the feeds are being loaded.
IN_INGEST = re.compile(r"\| INFO +\| Task run 'ingest_and_validate.* - sell_through/\S+: accepted")
# dbt logs each node; an intermediate model starting means staging is built and marts are not.
IN_DBT = re.compile(r"of \d+ START sql \w+ model intermediate\.")


class Run:
    """`vmi run` in its own process group, its merged output read line by line on a thread.

    `python_args` start it another way (tests/flows/test_rerun_safety.py adds a hook first).
    """

    def __init__(
        self,
        landing: Path,
        warehouse: Path,
        out: Path,
        env: dict[str, str],
        python_args: tuple[str, ...] = ("-m", "flows.cli"),
    ):
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [
                sys.executable,
                *python_args,
                "run",
                "--landing",
                str(landing),
                "--warehouse",
                str(warehouse),
                "--out",
                str(out),
                "--verbose",  # Prefect's and dbt's logs: the lines the kills wait on
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own group: a kill takes any worker with it
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: re.Pattern) -> str:
        """Block until a line matches; fail if the run ends first or the deadline passes."""
        while True:
            try:
                line = self._queue.get(timeout=DEADLINE_SECONDS)
            except queue.Empty:
                self.kill()
                pytest.fail(f"no line matching {pattern.pattern} within {DEADLINE_SECONDS}s")
            if line is None:
                pytest.fail(f"run ended before {pattern.pattern}:\n{self.tail()}")
            self.lines.append(line)
            if pattern.search(line):
                return line

    def kill(self) -> int:
        os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait()

    def finish(self) -> int:
        code = self.process.wait(timeout=DEADLINE_SECONDS)
        while (line := self._queue.get(timeout=DEADLINE_SECONDS)) is not None:
            self.lines.append(line)
        return code

    def tail(self, n: int = 40) -> str:
        return "".join(self.lines[-n:])


@pytest.fixture(scope="module")
def world(prefect_api, seed5_night, tmp_path_factory):
    base = tmp_path_factory.mktemp("crash")
    landing = seed5_night["landing"]  # the session's seed-5 world (tests/conftest.py)
    env = {
        **os.environ,
        # Report to the session's API server instead of starting one per command.
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(base / "prefect-home"),
        "PYTHONUNBUFFERED": "1",
    }
    feed_files = [
        p
        for folder in ("master", "sell_through", "inventory", "shipments")
        for p in (landing / folder).iterdir()
    ]
    return {"base": base, "landing": landing, "env": env, "files": len(feed_files)}


@pytest.fixture(scope="module")
def clean_run(seed5_night):
    """The reference: one uninterrupted run on a fresh warehouse (the session's published night
    of the same world; only read here)."""
    return seed5_night["folder"], seed5_night["warehouse"]


def raw_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            table: con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]
            for table in RAW_TABLES
        }


def runs_table(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select run_id, status from pipeline.runs order by started_at"
        ).fetchall()


def ledger_runs(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select run_id, count(*) from raw.file_ledger group by 1 order by 1"
        ).fetchall()


def assert_no_half_written_run_folder(out: Path) -> None:
    runs = out / "runs"
    if not runs.exists():
        return
    for folder in runs.iterdir():
        if not folder.name.startswith("."):
            assert (folder / "run_summary.json").is_file(), f"half-written {folder}"


def suggestions(folder: Path) -> pd.DataFrame:
    frame = pd.read_csv(folder / "suggestions.csv")[SUGGESTION_KEYS]
    return frame.sort_values(["dealer_id", "sku"]).reset_index(drop=True)


def test_killed_in_ingest_then_in_dbt_then_rerun_equals_a_clean_run(world, clean_run):
    clean_folder, clean_warehouse = clean_run
    warehouse = world["base"] / "killed" / "warehouse.duckdb"
    out = warehouse.parent / "out"
    landing, env = world["landing"], world["env"]

    # 1. SIGKILL while the feeds are being loaded.
    run = Run(landing, warehouse, out, env)
    run.wait_for(IN_INGEST)
    assert run.kill() == -signal.SIGKILL
    assert_no_half_written_run_folder(out)
    [(first_id, status)] = runs_table(warehouse)
    assert status == "running"
    [(ledger_run, ledger_files)] = ledger_runs(warehouse)
    # Killed mid-ingest: master and some feed files are committed, not all of them.
    assert ledger_run == first_id and 3 < ledger_files < world["files"]

    # 2. The next run first undoes the killed one; SIGKILL it while dbt builds the models.
    run = Run(landing, warehouse, out, env)
    run.wait_for(IN_DBT)
    assert run.kill() == -signal.SIGKILL
    assert_no_half_written_run_folder(out)
    # The killed run's rows are undone, its pipeline.runs row kept as a failed night.
    [(killed_id, killed_status), (second_id, status)] = runs_table(warehouse)
    assert (killed_id, killed_status) == (first_id, "failed")
    assert second_id != first_id and status == "running"
    # Every file loaded once, by the second run only: nothing of the first run is left.
    assert ledger_runs(warehouse) == [(second_id, world["files"])]

    # A publish killed between writing and renaming leaves a temp folder behind.
    leftover = out / "runs" / ".tmp-20260101T000000000000Z-killed"
    leftover.mkdir(parents=True)
    (leftover / "suggestions.csv").write_text("dealer_id,sku\n")

    # 3. A normal rerun publishes what a clean run on a fresh warehouse publishes.
    run = Run(landing, warehouse, out, env)
    assert run.finish() == 0, run.tail()
    assert_no_half_written_run_folder(out)
    assert not leftover.exists()
    folder = out / "runs" / clean_folder.name
    summary = json.loads((folder / "run_summary.json").read_text())
    assert {f["status"] for f in summary["files"]} == {"accepted"}
    pd.testing.assert_frame_equal(suggestions(folder), suggestions(clean_folder))
    assert raw_counts(warehouse) == raw_counts(clean_warehouse)
    *earlier, (third_id, status) = runs_table(warehouse)
    assert earlier == [(first_id, "failed"), (second_id, "failed")]
    assert status == "published" and third_id not in (first_id, second_id)
    assert ledger_runs(warehouse) == [(third_id, world["files"])]
