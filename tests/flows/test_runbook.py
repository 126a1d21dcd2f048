"""docs/operations.md cannot rot: its `bash runbook` blocks run as written, in order.

The convention is stated at the top of the page: a block whose info string is `bash runbook`
runs from the project root and must exit 0, exports carrying over to later blocks as in one
shell; `bash runbook background` (the worker) is started and left running until the end. The
operator's environment is a Prefect server on loopback (the session's, `PREFECT_API_URL`) and
a small generated world given to the worker as VMI_LANDING / VMI_WAREHOUSE_FILE / VMI_OUT.
Following the page deploys from prefect.yaml, starts a worker, triggers one nightly run and
watches it to the end: the run must publish.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "operations.md"
BLOCK = re.compile(
    r"^(?P<indent> *)```bash runbook(?P<background> background)?\n(?P<body>.*?)^(?P=indent)```$",
    re.MULTILINE | re.DOTALL,
)
BLOCK_TIMEOUT = 600  # a hang net: the trigger block waits for the run on its own (--watch)


def runbook_blocks(text: str) -> list[tuple[bool, str]]:
    """(background, commands) of each runnable block, in page order."""
    return [(bool(m["background"]), textwrap.dedent(m["body"])) for m in BLOCK.finditer(text)]


def test_the_marker_finds_blocks_and_only_marked_ones():
    text = "```bash runbook\na\n```\n```bash\nb\n```\n- item\n\n"
    text += "  ```bash runbook background\n  c\n  ```\n"  # indented under a list item
    assert runbook_blocks(text) == [(False, "a\n"), (True, "c\n")]
    blocks = runbook_blocks(RUNBOOK.read_text())
    assert [background for background, _ in blocks].count(True) == 1  # the worker
    assert any("deploy --all" in body for _, body in blocks)
    assert any("deployment run nightly-replenishment/nightly --watch" in body for _, body in blocks)


def test_the_runbook_runs_as_written(prefect_api, small_landing, tmp_path):
    (tmp_path / "vmi.toml").write_text("# the paths come from the worker's VMI_* variables\n")
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VMI_", "PREFECT_API"))}
    env.update(
        PREFECT_API_URL=prefect_api,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        VMI_CONFIG=str(tmp_path / "vmi.toml"),  # not a vmi.toml a developer keeps in the checkout
        VMI_LANDING=str(small_landing),
        VMI_WAREHOUSE_FILE=str(tmp_path / "warehouse.duckdb"),
        VMI_OUT=str(out),
        COLUMNS="200",  # a wide terminal: Prefect's tables show whole states
        PREFECT_WORKER_QUERY_SECONDS="2",  # the worker picks the triggered run up sooner
    )
    state = tmp_path / "exports.sh"  # what a block exports, for the blocks after it
    state.write_text("")
    background: list[subprocess.Popen] = []
    outputs: list[str] = []
    try:
        for number, (in_background, body) in enumerate(runbook_blocks(RUNBOOK.read_text())):
            if in_background:
                log = open(tmp_path / f"block-{number}.log", "wb")  # noqa: SIM115 - kept open
                background.append(subprocess.Popen(
                    ["bash", "-c", f"set -euo pipefail\nsource {state}\n{body}"], cwd=ROOT,
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                ))  # fmt: skip
                continue
            script = f"set -euo pipefail\nsource {state}\n{body}\nexport -p > {state}\n"
            done = subprocess.run(
                ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                timeout=BLOCK_TIMEOUT,
            )  # fmt: skip
            assert done.returncode == 0, f"block {number}:\n{body}\n{done.stdout}\n{done.stderr}"
            assert all(p.poll() is None for p in background), f"block {number}: worker ended"
            outputs.append(done.stdout)
    finally:
        for process in background:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    [published] = (out / "runs").iterdir()
    assert (published / "run_summary.json").is_file() and (published / "report.html").is_file()
    assert "Completed" in outputs[-2]  # the --watch block's end
    assert "COMPLETED" in outputs[-1]  # `flow-run ls` shows the run
