"""Environment and input faults give one line and an exit code, never a traceback (issue 14, 7).

- a policy file that is not UTF-8: exit 2, the file named;
- `vmi approve` on a run folder that cannot be written: exit 1, nothing written;
- `vmi approve` while another process holds the warehouse: exit 1, "in use by another
  process", nothing written;
- a warehouse file of random bytes: `vmi run` refuses it with exit 2 at once, no retries, and
  leaves it untouched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "planner"))
from test_report import make_run_folder  # noqa: E402 - the planner tests' run folder builder

from warehouse import connect  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2025-06-30"


def vmi(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )  # fmt: skip


def assert_one_line(result: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("vmi: ")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@contextmanager
def read_only(folder: Path):
    """`folder` cannot be written, also by root (immutable attribute), until the block ends."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root without chattr: no way to make a folder unwritable")
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("this file system does not support the immutable attribute")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


def test_a_policy_file_that_is_not_utf8_is_one_line_exit_2(small_landing, tmp_path):
    config = tmp_path / "policy.yml"
    config.write_bytes("service_levels:\n  A: 0.97\n# réglage café\n".encode("latin-1"))
    warehouse = tmp_path / "w.duckdb"
    result = vmi("run", "--landing", small_landing, "--warehouse", warehouse, "--config", config)
    assert_one_line(result, 2, str(config), "UTF-8")
    assert not warehouse.exists()


def test_approve_into_an_unwritable_run_folder_is_one_line_exit_1(tmp_path):
    run_dir = make_run_folder(tmp_path / "out", AS_OF)
    before = tree_digest(run_dir)
    with read_only(run_dir):
        result = vmi("approve", "--out", tmp_path / "out", "--as-of", AS_OF)
    assert_one_line(result, 1, str(run_dir), "cannot write the approval")
    assert tree_digest(run_dir) == before


@pytest.fixture
def held_warehouse(tmp_path):
    """A dealer-vmi warehouse whose write lock another process holds until the test ends."""
    path = tmp_path / "wh" / "warehouse.duckdb"
    connect(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    yield path, holder.pid
    holder.stdin.close()
    holder.wait(timeout=60)


def test_approve_while_another_process_holds_the_warehouse(tmp_path, held_warehouse):
    warehouse, holder_pid = held_warehouse
    run_dir = make_run_folder(tmp_path / "out", AS_OF)
    before = tree_digest(run_dir)
    result = vmi("approve", "--out", tmp_path / "out", "--as-of", AS_OF, "--warehouse", warehouse)
    line = assert_one_line(result, 1, f"warehouse {warehouse} is in use by another process")
    assert f"PID {holder_pid}" in line and "nothing written" in line
    assert tree_digest(run_dir) == before  # no orders, decisions, approval.json or exports


def test_after_the_holder_leaves_the_same_approval_goes_through(tmp_path):
    """The control for the test above: the same command on a free warehouse records lines."""
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    connect(warehouse).close()
    make_run_folder(tmp_path / "out", AS_OF)
    result = vmi("approve", "--out", tmp_path / "out", "--as-of", AS_OF, "--warehouse", warehouse)
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.approved_lines").fetchall()[0][0] > 0


def test_a_random_bytes_warehouse_is_refused_at_once_and_untouched(
    prefect_api, small_landing, tmp_path
):
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(os.urandom(64 * 1024))
    before = warehouse.read_bytes()
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    result = vmi("run", "--landing", small_landing, "--warehouse", warehouse, env=env)
    assert_one_line(result, 2, str(warehouse), "not a DuckDB database file")
    assert "Retry" not in result.stderr  # refused once, not retried as a transient fault
    assert warehouse.read_bytes() == before


def test_the_flow_tries_a_random_bytes_warehouse_once(prefect_api, small_landing, tmp_path):
    """Without the CLI's up-front check (a deployment run), `is_transient` refuses the retry."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.nightly import nightly_replenishment

    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(os.urandom(64 * 1024))
    before = warehouse.read_bytes()
    state = nightly_replenishment(
        landing=str(small_landing), warehouse=str(warehouse), return_state=True
    )
    assert state.is_failed()
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    [begin] = [t for t in task_runs if t.name.startswith("begin_run")]
    assert begin.run_count == 1 and begin.state.is_failed()
    assert "not a DuckDB database file" in begin.state.message
    assert warehouse.read_bytes() == before
