"""Workbench fixtures: a run folder, a users file and the app served by a real uvicorn server."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "planner"))
from test_report import make_run_folder  # noqa: E402

from web.app import create_app  # noqa: E402
from web.cli import ReadyServer  # noqa: E402
from web.settings import WebSettings  # noqa: E402
from web.users import add_user  # noqa: E402

AS_OF = "2025-06-30"
PASSWORDS = {"ann": "ann-planner-1", "bob": "bob-planner-2", "vic": "vic-viewer-3",
             "dora": "dora-dealer-4"}  # fmt: skip


@pytest.fixture
def run_out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    make_run_folder(out, AS_OF, dealers=4, skus=12, stale_dealer=None)
    return out


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    add_user(path, "ann", "planner", PASSWORDS["ann"])
    add_user(path, "bob", "planner", PASSWORDS["bob"])
    add_user(path, "vic", "viewer", PASSWORDS["vic"])
    add_user(path, "dora", "dealer", PASSWORDS["dora"], dealer_id="D001")
    return path


class Client(httpx.Client):
    """An httpx client usable in `with` after its first request (it closes on exit)."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Served:
    """The workbench on a free loopback port, in a thread of this process."""

    def __init__(self, settings: WebSettings) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = ReadyServer(config)  # what `vmi serve-web` runs
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        # the timeout only turns a hung start into a failure
        if not self.server.settled.wait(timeout=120) or not self.server.started:
            raise RuntimeError("the workbench did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def client(self) -> Client:
        return Client(base_url=self.url, timeout=30)

    def signed_in(self, name: str) -> tuple[Client, str]:
        """A client with a session of ``name`` and its CSRF token."""
        client = self.client()
        answer = client.post("/api/session", json={"username": name, "password": PASSWORDS[name]})
        assert answer.status_code == 200, answer.text
        return client, answer.json()["csrf_token"]


@pytest.fixture
def served(run_out: Path, users_file: Path):
    settings = WebSettings(out=run_out, users_file=users_file, secret_key="test-secret-key")
    with Served(settings) as app:
        yield app
