"""The real thing: Prefect server, process work pool, deployments from prefect.yaml, a worker.

A good night completes and publishes; a night whose landing share is unreachable fails after
the ingest task's retries, notifies the webhook and publishes nothing new.
"""

from __future__ import annotations

import asyncio
import json
import os
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
    env = serve.prefect_env(api)
    env.update(
        PREFECT_HOME=str(base / "prefect-home"),
        VMI_PROJECT_DIR=str(serve.PROJECT_DIR),
        VMI_LANDING=str(landing),
        VMI_WAREHOUSE_FILE=str(base / "wh.duckdb"),
        VMI_OUT=str(base / "out"),
    )
    server = worker = None
    with Receiver() as receiver:
        env[WEBHOOK_ENV] = receiver.url
        try:
            port = int(api.rsplit(":", 1)[1].split("/")[0])
            server = serve.start_server("127.0.0.1", port, env, base / "server.log")
            serve.wait_healthy(api, timeout=120, process=server)
            serve.create_pool(env)
            serve.deploy(env)  # every deployment of prefect.yaml, non-interactive
            worker = serve.start_worker(env, base / "worker.log")
            yield Stack(api, landing, base / "wh.duckdb", base / "out", worker, receiver, base)
        finally:
            serve.stop(worker)
            serve.stop(server)


def trigger(stack: Stack, deployment: str = "nightly-replenishment/nightly") -> str:
    """Start a run of a deployment through Prefect's client (which retries the server's 503s)."""
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(stack.api) as client:
        found = client.read_deployment_by_name(deployment)
        return str(client.create_flow_run_from_deployment(found.id).id)


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
        assert d["parameters"] == {
            "landing": str(stack.landing),
            "warehouse": str(stack.warehouse),
            "out": str(stack.out),
        }
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
