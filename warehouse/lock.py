"""The one-writer lock of a warehouse: a second run on the same file exits at once.

The lock is an advisory `flock` beside the warehouse file that the kernel drops when the process
dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse."""


@contextmanager
def warehouse_lock(warehouse: Path) -> Iterator[Path]:
    """Hold an exclusive lock beside the warehouse file for the length of a run.

    The lock is an advisory `flock` that the kernel drops when the process dies, so a killed
    run never leaves a stale lock behind. A second run exits at once with a clear message.
    """
    lock_path = Path(str(warehouse) + ".run-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WarehouseBusy(
                f"warehouse {warehouse} is in use by another run ({holder}); "
                "only one run may write to a warehouse at a time"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "since": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        )
        handle.flush()
        yield lock_path
    finally:
        handle.close()
