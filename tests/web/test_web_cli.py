"""`vmi users add` and `vmi serve-web` as a user runs them: real commands, a real port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
from conftest import AS_OF

VMI = [sys.executable, "-m", "flows.cli"]
ROOT = Path(__file__).resolve().parents[2]


def vmi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*VMI, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_users_add_then_serve_web_then_sign_in(tmp_path, run_out):
    users = tmp_path / "users.json"
    added = vmi(
        "users",
        "add",
        "ann",
        "--role",
        "planner",
        "--users",
        str(users),
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert added.returncode == 0, added.stderr
    assert "user ann (planner) saved" in added.stdout
    short = vmi("users", "add", "bob", "--users", str(users), "--password-stdin", stdin="x\n")
    assert short.returncode == 2 and short.stderr.strip() == "vmi: password: at least 8 characters"

    missing = vmi("serve-web", "--out", str(run_out), "--users", str(tmp_path / "nobody.json"))
    assert missing.returncode == 2 and "add a user first" in missing.stderr

    port = free_port()
    server = subprocess.Popen(
        [*VMI, "serve-web", "--out", str(run_out), "--users", str(users), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        # synchronise on the command's own "ready" line (EOF if it dies first)
        seen = []
        for line in server.stdout:
            seen.append(line)
            if line.startswith(f"workbench ready on {url}/"):
                break
        else:
            raise AssertionError(f"serve-web ended before it was ready: {''.join(seen)}")
        with httpx.Client(base_url=url) as client:
            answer = client.post(
                "/api/session", json={"username": "ann", "password": "a long enough secret"}
            )
            assert answer.status_code == 200 and answer.json()["role"] == "planner"
            lines = client.get(f"/api/runs/{AS_OF}/lines").json()
            assert lines["total"] > 0
    finally:
        server.terminate()
        server.wait(timeout=30)
