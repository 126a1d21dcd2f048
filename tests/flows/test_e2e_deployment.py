"""The real thing: Prefect server, process work pool, deployments from prefect.yaml, a worker.

Deployed as the runbook says: `prefect work-pool create`, then plain `prefect --no-prompt deploy
--all` from the project root with no VMI_* variable set; the paths are run parameters.
A good night completes and publishes; a night whose landing share is unreachable fails after
the ingest task's retries, notifies the webhook and publishes nothing new; a night given no
landing folder fails at once, naming the setting, and is recorded with its stage and reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import duckdb
import httpx
import pytest
from test_notify import Receiver

from flows import serve
from flows.notify import WEBHOOK_ENV
from planner.config_file import CONFIG_ENV, RETRY_ENV

pytestmark = pytest.mark.e2e

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
RUN_TIMEOUT = 240.0


@dataclass
class Stack:
    api: str
    landing: Path
    warehouse: Path
    out: Path
    worker: object
    receiver: Receiver
    logs: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from sampledata import generate

    base = tmp_path_factory.mktemp("e2e")
    landing = base / "landing"
    generate(landing, dealers=4, skus=12, days=200, start=None, seed=5)
    api = f"http://127.0.0.1:{free_port()}/api"
    # No VMI_* path variable: the paths are run parameters. The retry schedule stays (conftest).
    plain = {k: v for k, v in os.environ.items() if not k.startswith("VMI_")}
    plain[RETRY_ENV] = os.environ[RETRY_ENV]
    env = serve.prefect_env(api, plain) | {"PREFECT_HOME": str(base / "prefect-home")}
    # The worker's runs read no vmi.toml a developer may keep in the checkout: an empty one.
    (base / "vmi.toml").write_text("# paths come from the run parameters\n")
    server = worker = None
    with Receiver() as receiver:
        worker_env = env | {WEBHOOK_ENV: receiver.url, CONFIG_ENV: str(base / "vmi.toml")}
        worker_env["PREFECT_WORKER_QUERY_SECONDS"] = "2"  # picks a triggered run up sooner (10)
        try:
            port = int(api.rsplit(":", 1)[1].split("/")[0])
            server = serve.start_server("127.0.0.1", port, env, base / "server.log")
            serve.wait_healthy(api, timeout=120, process=server)
            for args in (
                ["work-pool", "create", "vmi-process", "--type", "process", "--overwrite"],
                ["work-pool", "set-concurrency-limit", "vmi-process", "1"],
                ["--no-prompt", "deploy", "--all"],  # from the project root, no VMI_* set
            ):
                serve._prefect(args, env)
            worker = serve.start_worker(worker_env, base / "worker.log")
            yield Stack(api, landing, base / "wh.duckdb", base / "out", worker, receiver, base)
        finally:
            serve.stop(worker)
            serve.stop(server)


def trigger(stack: Stack, deployment: str = "nightly-replenishment/nightly") -> str:
    """Start a run with the stack's paths as parameters through Prefect's client (which
    retries the server's 503s)."""
    from prefect.client.orchestration import SyncPrefectClient

    paths = {"landing": stack.landing, "warehouse": stack.warehouse, "out": stack.out}
    with SyncPrefectClient(stack.api) as client:
        found = client.read_deployment_by_name(deployment)
        parameters = {name: str(path) for name, path in paths.items()}
        return str(client.create_flow_run_from_deployment(found.id, parameters=parameters).id)


def wait_terminal(stack: Stack, flow_run_id: str) -> dict:
    """Wait for the run's terminal state on the API's event stream (bounded by RUN_TIMEOUT)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import FlowRunWaitTimeout
    from prefect.flow_runs import wait_for_flow_run
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def wait() -> None:
        async with get_client() as client:
            await wait_for_flow_run(UUID(flow_run_id), timeout=int(RUN_TIMEOUT), client=client)

    with temporary_settings({PREFECT_API_URL: stack.api}):
        try:
            asyncio.run(wait())
        except FlowRunWaitTimeout:
            worker_log = (stack.logs / "worker.log").read_text()[-3000:]
            raise AssertionError(
                f"flow run not finished in {RUN_TIMEOUT} s\n{worker_log}"
            ) from None
    run = httpx.get(f"{stack.api}/flow_runs/{flow_run_id}", timeout=10).json()
    assert run["state"]["type"] in TERMINAL, run["state"]
    return run


def task_runs(stack: Stack, flow_run_id: str) -> list[dict]:
    found = httpx.post(
        f"{stack.api}/task_runs/filter",
        json={"flow_runs": {"id": {"any_": [flow_run_id]}}},
        timeout=10,
    )
    found.raise_for_status()
    return found.json()


def snapshot(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
    }


def test_prefect_yaml_deploys_both_deployments(stack):
    for name in ("nightly-replenishment/nightly", "backfill-replenishment/backfill"):
        d = httpx.get(f"{stack.api}/deployments/name/{name}", timeout=10).json()
        assert d["work_pool_name"] == "vmi-process"
        assert d["parameters"] == {}  # the paths come at run time, never frozen at deploy time
        assert d["pull_steps"] == [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": str(serve.PROJECT_DIR)  # where `prefect deploy` ran
                }
            }
        ]
        assert "{{" not in json.dumps(d)  # no template left unresolved
        assert d["global_concurrency_limit"]["limit"] == 1
    nightly = httpx.get(f"{stack.api}/deployments/name/nightly-replenishment/nightly").json()
    [schedule] = nightly["schedules"]
    assert schedule["schedule"]["cron"] == "0 2 * * *"
    assert schedule["schedule"]["timezone"] == "Europe/Berlin"
    pool = httpx.get(f"{stack.api}/work_pools/vmi-process", timeout=10).json()
    assert pool["type"] == "process" and pool["concurrency_limit"] == 1


def test_good_night_completes_and_publishes_then_broken_share_fails_after_retries(stack):
    # A good night.
    first = wait_terminal(stack, trigger(stack))
    assert first["state"]["type"] == "COMPLETED", first["state"]["message"]
    [folder] = (stack.out / "runs").iterdir()
    assert (folder / "suggestions.csv").is_file()
    summary = json.loads((folder / "run_summary.json").read_text())
    assert summary["as_of"] == folder.name
    published = snapshot(stack.out)

    # The landing share goes away: the feed folder is a link to nowhere.
    feed = stack.landing / "sell_through"
    feed.rename(stack.landing / "sell_through.away")
    feed.symlink_to("/nonexistent/share")

    failed_id = trigger(stack)
    failed = wait_terminal(stack, failed_id)
    assert failed["state"]["type"] == "FAILED"
    tasks = task_runs(stack, failed_id)
    [ingest] = [t for t in tasks if t["name"].startswith("ingest_and_validate")]
    # retries=3 with a retry condition that accepts OSError: four attempts, then failed.
    assert ingest["state"]["type"] == "FAILED"
    assert ingest["run_count"] == 4
    assert "sell_through" in failed["state"]["message"]  # names the unreachable folder
    # Nothing downstream ran, nothing new was published.
    assert not any(t["name"].startswith(("dbt_build", "publish")) for t in tasks)
    assert snapshot(stack.out) == published
    with duckdb.connect(str(stack.warehouse), read_only=True) as con:
        statuses = sorted(
            con.execute("select status from pipeline.runs order by started_at").fetchall()
        )
    assert statuses == [("failed",), ("published",)]
    # The operator heard about it, with the flow run's id.
    notices = stack.receiver.wait_for(lambda b: b.get("flow_run_id") == failed_id)
    assert [n["event"] for n in notices] == ["vmi.run.failed"]
    assert notices[0]["as_of"] is None  # the run failed before it resolved its as-of
    assert os.path.islink(feed)


def test_night_without_landing_fails_naming_the_setting_and_is_recorded(stack):
    """Triggered as the runbook does, with warehouse and out but no landing anywhere."""
    from warehouse import connect
    from warehouse.runs import failed_runs_file, import_failed_runs

    started = serve._prefect(
        ["deployment", "run", "nightly-replenishment/nightly", "--param",
         f"warehouse={stack.warehouse}", "--param", f"out={stack.out}"],
        {**os.environ, "PREFECT_API_URL": stack.api},
    )  # fmt: skip
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", started).group(1)
    before = snapshot(stack.out)
    failed = wait_terminal(stack, flow_run_id)
    reason = "no landing folder: pass the landing parameter or set landing in vmi.toml (VMI_CONFIG)"
    assert failed["state"]["type"] == "FAILED"
    assert reason in failed["state"]["message"]
    [check] = [t for t in task_runs(stack, flow_run_id) if t["name"].startswith("check_conf")]
    assert check["run_count"] == 1  # a configuration error is never retried
    assert snapshot(stack.out) == before
    # It failed before the warehouse was opened: failed-runs.jsonl beside it, then pipeline.runs.
    lines = failed_runs_file(stack.warehouse).read_text().splitlines()
    record = json.loads(lines[-1])
    assert (record["failed_stage"], record["error_class"]) == ("start", "SettingsError")
    assert record["error_message"] == reason
    # The failure hook reads the warehouse (read-only) after the terminal state is set; its
    # notice says it is done, and only then may this process open the file read-write.
    [notice] = stack.receiver.wait_for(lambda b: b.get("flow_run_id") == flow_run_id)
    assert (notice["event"], notice["as_of"]) == ("vmi.run.failed", None)
    with connect(stack.warehouse) as con:
        import_failed_runs(con, stack.warehouse)
        row = con.execute(
            "select status, failed_stage, error_message from pipeline.runs where run_id = ?",
            [record["run_id"]],
        ).fetchone()
    assert row == ("failed", "start", reason)
