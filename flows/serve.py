"""Run dealer-vmi on a schedule on one machine: Prefect server, work pool, deployments, worker.

`python -m flows.serve` (or `make serve`) starts `prefect server start` on loopback (unless
`--api-url` names one), creates the process pool `vmi-process` (concurrency 1), deploys
prefect.yaml from the project root (the runs find their paths in vmi.toml or VMI_*, see
planner/config_file.py) and runs a worker until Ctrl-C (docs/operations.md). The end-to-end
test stands the same setup up with these and the runbook's `prefect` commands.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.workers.process import ProcessWorker

PROJECT_DIR = Path(__file__).resolve().parents[1]
POOL = "vmi-process"
PREFECT = [sys.executable, "-m", "prefect"]


def prefect_env(api_url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for Prefect commands and the worker: this API."""
    env = dict(os.environ if base is None else base)
    env["PREFECT_API_URL"] = api_url
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    return env


def start_server(host: str, port: int, env: Mapping[str, str], log_file: Path) -> subprocess.Popen:
    """`prefect server start` in its own process group (so it can be stopped with its children)."""
    env = dict(env)
    env.pop("PREFECT_API_URL", None)  # the server must not talk to another server
    return _spawn(
        [*PREFECT, "server", "start", "--host", host, "--port", str(port)],
        env,
        log_file,
    )


def wait_healthy(
    api_url: str, timeout: float = 90.0, process: subprocess.Popen | None = None
) -> None:
    """Ask the API's health check until it answers; raise if `process` exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    with SyncPrefectClient(api_url) as client:
        while client.api_healthcheck() is not None:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"prefect server exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no Prefect API at {api_url} after {timeout:.0f} s")
            time.sleep(0.25)  # between polls; the deadline above bounds the wait


def create_pool(env: Mapping[str, str], name: str = POOL, concurrency_limit: int = 1) -> None:
    """Create (or replace) the process work pool, capped at `concurrency_limit` flow runs."""
    pool = WorkPoolCreate(
        name=name,
        type="process",
        concurrency_limit=concurrency_limit,
        base_job_template=ProcessWorker.get_default_base_job_template(),
    )
    with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
        client.create_work_pool(pool, overwrite=True)


def deploy(env: Mapping[str, str], names: list[str] | None = None) -> str:
    """`prefect --no-prompt deploy` of prefect.yaml from the project root (every deployment
    unless `names`); the runs' working directory is the project root."""
    selection = [a for n in names for a in ("-n", n)] if names else ["--all"]
    return _prefect(["--no-prompt", "deploy", *selection], env)


def start_worker(env: Mapping[str, str], log_file: Path, pool: str = POOL) -> subprocess.Popen:
    """`prefect worker start --pool <pool>` in its own process group."""
    return _spawn([*PREFECT, "worker", "start", "--pool", pool], env, log_file)


def stop(process: subprocess.Popen | None, timeout: float = 20.0) -> None:
    """Stop a process started here and every child of its group: SIGTERM, then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _spawn(args: list[str], env: Mapping[str, str], log_file: Path) -> subprocess.Popen:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        return subprocess.Popen(
            args,
            cwd=PROJECT_DIR,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _prefect(args: list[str], env: Mapping[str, str]) -> str:
    done = subprocess.run(
        [*PREFECT, *args],
        cwd=PROJECT_DIR,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"prefect {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4200)
    parser.add_argument(
        "--api-url", help="use this running Prefect API instead of starting a server"
    )
    parser.add_argument(
        "--logs",
        type=Path,
        default=Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser() / "vmi-logs",
        help="folder for server.log and worker.log",
    )
    args = parser.parse_args(argv)
    api_url = args.api_url or f"http://{args.host}:{args.port}/api"
    env = prefect_env(api_url)
    server = worker = None
    try:
        if not args.api_url:
            server = start_server(args.host, args.port, env, args.logs / "server.log")
            print(f"prefect server starting at {api_url} (log: {args.logs / 'server.log'})")
        wait_healthy(api_url, process=server)
        create_pool(env)
        print(deploy(env))
        worker = start_worker(env, args.logs / "worker.log")
        print(f"worker polling pool {POOL} (log: {args.logs / 'worker.log'}); Ctrl-C stops")
        return worker.wait()
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 1
    finally:
        stop(worker)
        stop(server)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
