"""What `vmi run` shows on its console, and the clock that times the nightly stages.

By default one line per stage as it ends (stage, what it did, seconds), a progress bar for
ingest and forecast only when stderr is an interactive terminal, and a `!` line only for what
needs a person (quarantined rows or rejected files, feeds gone stale, Data Docs not built).
Prefect's and dbt's own console logging is turned down by `quiet_environment` (the Prefect
API still receives every flow and task log; dbt still writes its log file beside the
warehouse); `vmi run --verbose` leaves it on.

The flow reports through `StageClock` and `ticking`/`track`; they print nothing unless `vmi
run` called `start` (a deployment's run logs to Prefect only).
"""

from __future__ import annotations

import atexit
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import pandas as pd

# Prefect reads PREFECT_LOGGING_<path of logging.yml> at import: CRITICAL on its console
# handler only, so its API handler still sends INFO logs to the server. dbt: nothing on the
# console, its log file (<warehouse>.dbt-target/logs/dbt.log) keeps debug detail.
QUIET_ENV = {
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
    "DBT_LOG_LEVEL": "none",
    "DBT_LOG_LEVEL_FILE": "debug",
    "PYTHONWARNINGS": "ignore",  # library deprecation notices, in forecast workers too
}
LABELS = {
    "ingest_validate": "ingest",
    "data_docs": "data docs",
    "dbt_core": "dbt core",
    "forecast": "forecast",
    "replenish": "replenish",
    "dbt_reporting": "dbt report",
    "stage_outputs": "tables",
}
BARS = {"ingest_validate": "files", "forecast": "chunks"}  # stages with a progress bar


def count(n: int) -> str:
    """12,345 below 100,000; then 123k, 9.49M, 1.2B (three significant digits)."""
    if n < 100_000:
        return f"{n:,}"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale * 0.9995:  # 999,999 is 1M, not 1e+03k
            return f"{n / scale:.3g}{suffix}"


def plural(n: int, word: str) -> str:
    return f"{count(n)} {word}{'' if n == 1 else 's'}"


def describe(record: dict) -> tuple[str, list[str]]:
    """What a finished stage did, and the warnings it raises, from the StageClock record."""
    name, rows, notes = record["name"], int(record["rows"]), []
    if name == "ingest_validate":
        files = pd.DataFrame(record.get("files") or [], columns=["status", "rows_quarantined"])
        quarantined = int(files["rows_quarantined"].sum())
        rejected = int((files["status"] == "rejected").sum())
        text = f"{plural(len(files), 'file')}  {count(rows)} rows accepted, {count(quarantined)}"
        text += " quarantined" + (f", {plural(rejected, 'file')} rejected" if rejected else "")
        if quarantined or rejected:
            hit = int(((files["rows_quarantined"] > 0) | (files["status"] == "rejected")).sum())
            notes.append(f"{plural(hit, 'file')} with quarantined rows or rejected: see "
                         "quarantine.csv and run_summary.json")  # fmt: skip
        return text, notes
    if name == "data_docs":
        if record.get("rows") and not record.get("docs"):
            notes.append("GX Data Docs not built (the flow run's log says why)")
        return plural(rows, "validation"), notes
    if name == "replenish":
        alerts = record.get("alerts")
        stale = 0
        if alerts is not None and len(alerts):
            stale = alerts.loc[alerts["alert_type"] == "stale_feed", "dealer_id"].nunique()
        if stale:
            notes.append(f"{plural(stale, 'dealer')} with a stale feed: see alerts.csv")
        n_alerts = 0 if alerts is None else len(alerts)
        return f"{plural(rows, 'suggestion')}, {plural(n_alerts, 'alert')}", notes
    unit = {"forecast": "series", "stage_outputs": "row"}.get(name, "dbt node")
    return (f"{count(rows)} series" if unit == "series" else plural(rows, unit)), notes


def stage_line(record: dict, text: str) -> str:
    label = LABELS.get(record["name"], record["name"])
    return f"{label:<11} {text:<52} {record['seconds']:>6.1f} s"


class Console:
    """Stage lines and warnings on `stream`; rich progress bars when it is a terminal."""

    def __init__(self, stream: TextIO | None = None, *, bars: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bars = self.stream.isatty() if bars is None else bars
        self._progress = self._bar = None

    def stage_started(self, name: str) -> None:
        if self.bars and name in BARS:
            from rich import progress
            from rich.console import Console as RichConsole

            columns = (
                progress.TextColumn(f"{LABELS[name]:<11}"), progress.BarColumn(),
                progress.MofNCompleteColumn(), progress.TextColumn(BARS[name]),
                progress.TimeElapsedColumn(),
            )  # fmt: skip
            console = RichConsole(file=self.stream)
            self._progress = progress.Progress(*columns, console=console, transient=True)
            self._bar = self._progress.add_task(name, total=None)
            self._progress.start()

    def advance(self, total: int | None = None) -> None:
        """One more done; or, with `total`, start over out of `total` (a retried task too)."""
        if self._progress is not None:
            if total is not None:
                self._progress.update(self._bar, total=total, completed=0)
            else:
                self._progress.advance(self._bar)

    def stop_bar(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = self._bar = None

    def stage_done(self, record: dict) -> None:
        self.stop_bar()
        text, notes = describe(record)
        lines = [stage_line(record, text), *(f"  ! {note}" for note in notes)]
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()


_active: list[Console] = []  # the console of this process's `vmi run`, if any


def quiet_environment() -> dict[str, str]:
    """The variables that quiet Prefect's and dbt's console, minus those already set."""
    return {key: value for key, value in QUIET_ENV.items() if key not in os.environ}


def start(verbose: bool, stream: TextIO | None = None) -> Console:
    """Called by `vmi run` before Prefect is imported: report stages here from now on, and
    (unless verbose) quiet Prefect's and dbt's console output."""
    if not verbose:
        os.environ.update(quiet_environment())
        warnings.simplefilter("ignore")  # PYTHONWARNINGS is read at start: this process too
        atexit.register(_quiet_exit)
    console = Console(stream, bars=False if verbose else None)
    _active[:] = [console]
    return console


def _quiet_exit() -> None:
    """Run's output is out: what native libraries print while the interpreter shuts down
    (nanobind's "leaked instance" lists of DuckDB objects a failed run's traceback held)
    goes nowhere. atexit handlers run last-registered first, so Prefect's own still print."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)


def ticking(log: Callable[[str], None], landing: Path | None = None) -> Callable[[str], None]:
    """`log`, which also moves the ingest bar one file on (its total: the landing's files)."""
    if _active and landing is not None:
        from landing.schema import FEED_FOLDERS

        folders = ("master", *FEED_FOLDERS)
        _active[0].advance(total=sum(_visible(Path(landing) / folder) for folder in folders))

    def say(message: str) -> None:
        log(message)
        if _active:
            _active[0].advance()

    return say


def _visible(folder: Path) -> int:
    try:
        return sum(1 for entry in os.scandir(folder) if entry.name[0] != ".")
    except OSError:
        return 0


def track(items: Iterable) -> Iterator:
    """The items, moving the current stage's bar one on after each (forecast chunks)."""
    items = list(items)
    if _active:
        _active[0].advance(total=len(items))
    for item in items:
        yield item
        if _active:
            _active[0].advance()


class StageClock:
    """Seconds and rows per stage, for run_summary.json and pipeline.stage_timings; `current`
    names where the run is (a timed stage, or the untimed step after the last one). Each stage
    is shown on `vmi run`'s console as it ends (other keys of the record describe it there)."""

    AFTER = {"data_docs": "resolve_as_of", "stage_outputs": "publish"}

    def __init__(self) -> None:
        self.stages: list[dict] = []
        self.current, self.started_at = "start", datetime.now(UTC).replace(tzinfo=None)

    @contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        """Time the block; the block sets `rows` on the dict it gets."""
        record, started, self.current = {"name": name, "rows": 0}, time.perf_counter(), name
        if _active:
            _active[0].stage_started(name)
        try:
            yield record
        except BaseException:
            if _active:  # the bar goes; the error is `vmi run`'s one line
                _active[0].stop_bar()
            raise
        seconds = round(time.perf_counter() - started, 3)
        self.stages.append({"name": name, "seconds": seconds, "rows": int(record["rows"])})
        self.current = self.AFTER.get(name, f"after {name}")
        if _active:
            _active[0].stage_done({**record, "seconds": seconds})
