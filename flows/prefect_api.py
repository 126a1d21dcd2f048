"""A Prefect API for a command: `PREFECT_API_URL`, or a temporary server on loopback.

The temporary server (`python -m flows.prefect_api PORT`, log in $PREFECT_HOME/vmi-logs/) is in
the run's process group, so SIGKILL of the group ends it too; it ignores the SIGINT/SIGTERM sent
to the whole group, so an interrupted run can still record its end, and stops when the run
closes its stdin or dies. Its address is exported for forecast worker processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

import uvicorn
from prefect.context import refresh_global_settings_context
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings


class ServerDidNotStart(RuntimeError):
    """The temporary server exited or did not answer within 120 s."""


@contextmanager
def prefect_api() -> Iterator[str | None]:
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    from flows.serve import wait_healthy

    log = Path(PREFECT_HOME.value()) / "vmi-logs" / "temporary-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    with open(log, "ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "flows.prefect_api", str(port)],
            env={"PREFECT_SERVER_ANALYTICS_ENABLED": "false", **os.environ,
                 "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "NOTSET"},  # its log: all of it
            stdin=subprocess.PIPE, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        try:
            wait_healthy(url, 120.0, server)
        except (RuntimeError, TimeoutError) as exc:
            raise ServerDidNotStart(f"temporary Prefect server: {exc} (log: {log})") from None
        os.environ["PREFECT_API_URL"] = url  # and for threads without our context (a process
        refresh_global_settings_context()  # pool's event forwarder would start its own server)
        with temporary_settings({PREFECT_API_URL: url}):
            yield url
    finally:
        for worker in (APILogWorker, EventsWorker):  # flush while the server listens: left
            with suppress(Exception):  # for interpreter exit they retry a stopped one for long
                worker.drain_all(timeout=10)
        os.environ.pop("PREFECT_API_URL", None)
        refresh_global_settings_context()
        server.stdin.close()  # the server's cue to stop
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


class _Server(uvicorn.Server):
    def capture_signals(self):  # SIGINT/SIGTERM stay ignored: the run stops this server
        return nullcontext()


if __name__ == "__main__":
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, signal.SIG_IGN)
    from prefect.server.api.server import create_app

    app = create_app(ephemeral=True, final=True)  # no UI; the services a run needs
    config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error")
    server = _Server(config)
    stop = lambda: (sys.stdin.buffer.read(), setattr(server, "should_exit", True))  # noqa: E731
    threading.Thread(target=stop, daemon=True).start()
    server.run()
