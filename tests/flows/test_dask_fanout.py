"""The forecast fan-out on a real Dask cluster: `dask scheduler` and two `dask worker` processes
on loopback, the forecast-demand subflow's DaskTaskRunner pointed at them (VMI_DASK_ADDRESS),
under a real Prefect API. Same forecasts as the local run, to the last bit; each task gets only
its chunk. And the same forecasts from a local pool of two worker processes."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DASK = Path(sys.executable).with_name("dask")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def payload_recorder():
    """A Dask worker plugin recording the DataFrames each task arrives with (by pickling the
    task's spec as the worker starts it, whatever the spec's layout). Built in a function so
    that the class travels to the workers by value."""
    import cloudpickle
    from distributed import WorkerPlugin

    class PayloadRecorder(WorkerPlugin):
        name = "vmi-payloads"

        def setup(self, worker):
            self.worker, self.frames = worker, {}

        def transition(self, key, start, finish, **kwargs):
            if finish != "executing":
                return
            found = []

            class Finder(cloudpickle.Pickler):
                def persistent_id(self, obj):
                    if isinstance(obj, pd.DataFrame):
                        found.append((len(obj), sorted(set(obj["unique_id"]))))
                        return len(found)  # recorded, not pickled
                    return None

            Finder(io.BytesIO()).dump(self.worker.state.tasks[key].run_spec)
            self.frames[str(key)] = found

    return PayloadRecorder()


@pytest.fixture(scope="module")
def warehouse(small_night, copy_night, tmp_path_factory) -> Path:
    """A warehouse with its marts: one nightly run on the small generated world (a copy of the
    session's shared night, tests/conftest.py)."""
    return copy_night(small_night, tmp_path_factory.mktemp("dask") / "night")["warehouse"]


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers, each in its own process group; all of them
    (the workers' nanny children too) are gone when the test ends."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    log = open(tmp_path / "dask.log", "wb")
    common = dict(stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    scheduler = [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":")[-1]]
    processes = [subprocess.Popen([*scheduler, "--no-dashboard"], **common)]
    for name in ("w1", "w2"):
        worker = [str(DASK), "worker", address, "--nworkers", "1", "--nthreads", "1"]
        worker += ["--name", name, "--no-dashboard", "--local-directory", str(tmp_path / name)]
        processes.append(subprocess.Popen(worker, **common))
    try:
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            yield address, client
    finally:
        started = [psutil.Process(p.pid) for p in processes if p.poll() is None]
        family = started + [c for p in started for c in p.children(recursive=True)]
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(family, timeout=30)
        for process in alive:
            process.kill()
        log.close()
        assert not alive, f"left running after SIGTERM: {alive}"


@pytest.fixture(scope="module")
def local_run(warehouse, tmp_path_factory):
    """The subflow with the runner a small night gets without VMI_DASK_ADDRESS (in-process)."""
    from flows import tasks
    from flows.nightly import forecast_demand
    from flows.settings import RunSettings

    folder = tmp_path_factory.mktemp("local")
    settings = RunSettings.from_args(folder, warehouse, folder / "out")
    saved = os.environ.pop("VMI_DASK_ADDRESS", None)
    try:
        runner = tasks.forecast_task_runner(settings)
        assert type(runner).__name__ == "ThreadPoolTaskRunner"
        return settings, forecast_demand.with_options(task_runner=runner)(settings)
    finally:
        if saved is not None:
            os.environ["VMI_DASK_ADDRESS"] = saved


def assert_same_forecasts(got, expected):
    pd.testing.assert_frame_equal(got[0], expected[0], check_exact=True)
    pd.testing.assert_frame_equal(got[1], expected[1], check_exact=True)
    assert len(expected[1]) == expected[2]["unique_id"].nunique() > 100


def test_forecasts_on_two_dask_workers_equal_the_local_run(local_run, cluster, monkeypatch):
    from flows import tasks
    from flows.nightly import forecast_demand

    settings, expected = local_run
    _, _, history, profiles = expected
    address, client = cluster
    client.register_plugin(payload_recorder())
    monkeypatch.setenv("VMI_DASK_ADDRESS", address)
    runner = tasks.forecast_task_runner(settings)
    assert type(runner).__name__ == "DaskTaskRunner"
    assert_same_forecasts(forecast_demand.with_options(task_runner=runner)(settings), expected)

    seen = client.run(lambda dask_worker: dask_worker.plugins["vmi-payloads"].frames)
    payloads = [frames for per_worker in seen.values() for frames in per_worker.values()]
    assert all(per_worker for per_worker in seen.values())  # both workers forecast chunks
    assert len(payloads) >= 2
    chunks = []
    for frames in payloads:  # the task's history chunk and its profiles, nothing else
        (rows, ids), (profile_rows, profile_ids) = frames
        assert rows < len(history) and profile_rows < len(profiles)
        assert set(profile_ids) <= set(ids)
        chunks.append(ids)
    every = [uid for ids in chunks for uid in ids]
    assert sorted(every) == sorted(history["unique_id"].unique())  # each series in one chunk


def test_forecasts_on_two_local_worker_processes_equal_the_local_run(local_run):
    from prefect.task_runners import ProcessPoolTaskRunner

    from flows.nightly import forecast_demand

    settings, expected = local_run
    before = prefect_servers_started_here()
    pool = forecast_demand.with_options(task_runner=ProcessPoolTaskRunner(max_workers=2))
    assert_same_forecasts(pool(settings), expected)
    # The pool's event-forwarding thread used to miss the run's API (it lives in a context
    # copied before the temporary server existed) and start a Prefect server of its own.
    assert prefect_servers_started_here() == before


def prefect_servers_started_here() -> set[int]:
    """Pids of Prefect API servers that are children of this process."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"prefect.server.api.server" in command:
            pids.add(int(entry.name))
    return pids
