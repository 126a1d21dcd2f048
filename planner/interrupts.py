"""How `vmi run` ends on SIGINT (Ctrl-C) or SIGTERM (systemd, a scheduler): one line, its code.

`signals_watched` makes both signals raise `Interrupted` and records every arrival on the
interpreter's wakeup pipe (`signal.set_wakeup_fd`), whoever handles it: CPython writes each
caught signal's number there before any Python handler runs. The record is needed because
Prefect's flow engine swaps SIGTERM's handler for its own while a flow runs
(`prefect.utilities.engine.capture_sigterm`), and a signal that lands inside a DuckDB query
comes back as RuntimeError("Query interrupted"), whichever handler raised. After a signal,
`failure` reads every error as the interruption.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress

EXIT_FAILED = 1
EXIT_SIGINT = 130
WATCHED = (signal.SIGINT, signal.SIGTERM)
_seen: list[int] = []  # signals that arrived while `signals_watched` ran (the last one's too)


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached `vmi run` (a BaseException: no `except Exception` stops it)."""


def _interrupt(signum: int, frame) -> None:
    if not _seen:  # raise once: a second signal must not cut the clean-up short
        _seen.append(signum)
        raise Interrupted(signal.Signals(signum).name)


@contextmanager
def signals_watched() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Interrupted`; every arrival is recorded (module docstring)."""
    _seen.clear()
    read_end, write_end = os.pipe()
    for end in (read_end, write_end):
        os.set_blocking(end, False)
    previous = {s: signal.signal(s, _interrupt) for s in WATCHED}
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        yield
    finally:
        with suppress(BlockingIOError):
            while chunk := os.read(read_end, 512):
                _seen.extend(n for n in chunk if n in WATCHED)
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        os.close(read_end)
        os.close(write_end)


def failure(exc: BaseException) -> tuple[str, int]:
    """The line and exit code of a run that ended by `exc` (after `signals_watched` ended)."""
    if isinstance(exc, Interrupted) or _seen:
        return "run interrupted, nothing published", (
            EXIT_SIGINT if set(_seen) == {signal.SIGINT} else EXIT_FAILED
        )
    return f"run failed, nothing published: {type(exc).__name__}: {exc}", EXIT_FAILED
