"""Per-node dbt (VMI_DBT_NODES_AS_TASKS=1): every dbt node is a Prefect task the API records,
and a quiet `vmi run` process ends cleanly after it. prefect-dbt's node tasks finish in daemon
threads it never joins; before `flows.dbt_build` joined them, a quiet run could abort at exit
on their last log records.

The product's own per-node call (`flows.dbt_build._invoke`, what `run_dbt_build` calls), on a
few nodes of the core selection over the session's small world, in a child process quieted as
`vmi run` quiets itself. The whole selection runs per node in bench_dbt.py; plain dbt runs
end to end in test_nightly and test_console_output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NODES = ["stg_vmi__sell_through", "stg_vmi__inventory", "int_as_of_date", "int_calendar_days"]
CHILD = """
import json, os, sys
from pathlib import Path
from planner import console

console.start(verbose=False)  # what `vmi run` does first: the quiet console

import duckdb
from prefect import flow
from flows.dbt_build import _invoke
from landing.ingest import ingest_landing

landing, warehouse, nodes = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
with duckdb.connect(str(warehouse)) as con:
    ingest_landing(landing, con, run_id="r1", as_of=None)
os.environ["VMI_WAREHOUSE"] = str(warehouse)
target = Path(str(warehouse) + ".dbt-target")


@flow(name="per-node-dbt")
def per_node() -> int:
    variables = json.dumps({"as_of": None, "run_id": "r1"})
    args = ["build", "--select", nodes, "--vars", variables, "--target-path", str(target)]
    return _invoke(args, "core", target, nodes_as_tasks=True)


print(per_node())
"""


@pytest.fixture(scope="module")
def per_node_run(prefect_api, small_landing, tmp_path_factory):
    base = tmp_path_factory.mktemp("per-node")
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_HOME": str(base / "home")}
    from planner.console import QUIET_ENV

    for name in QUIET_ENV:  # the defaults console.start sets, not the caller's shell
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(small_landing), str(base / "wh.duckdb"), " ".join(NODES)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return done


def test_the_quiet_process_ends_cleanly_and_prints_nothing(per_node_run):
    done = per_node_run
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stderr == ""  # no dbt or Prefect lines, no "Fatal Python error" at exit
    built = int(done.stdout.split()[-1])
    assert built >= len(NODES)  # the models, and their data tests


def test_each_node_is_a_task_run_in_the_api(per_node_run, prefect_api):
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowFilter, FlowRunFilter

    assert per_node_run.returncode == 0, per_node_run.stderr[-4000:]
    with SyncPrefectClient(prefect_api) as client:
        [run] = client.read_flow_runs(flow_filter=FlowFilter(name={"any_": ["per-node-dbt"]}))
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [run.id]}))
    names = " ".join(task.name for task in tasks)
    for node in NODES:
        assert node in names, sorted(task.name for task in tasks)
    assert all(task.state.is_completed() for task in tasks), [
        (task.name, task.state.name) for task in tasks if not task.state.is_completed()
    ]


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("yes", True), ("0", False)])
def test_the_environment_switch_reaches_the_run_settings(monkeypatch, tmp_path, value, expected):
    from flows.settings import RunSettings

    monkeypatch.setenv("VMI_DBT_NODES_AS_TASKS", value)
    settings = RunSettings.from_args(tmp_path / "landing", tmp_path / "wh.duckdb")
    assert settings.dbt_nodes_as_tasks is expected
    monkeypatch.delenv("VMI_DBT_NODES_AS_TASKS")
    default = RunSettings.from_args(tmp_path / "landing", tmp_path / "wh.duckdb")
    assert default.dbt_nodes_as_tasks is False
