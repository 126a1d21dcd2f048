"""Publish a run folder atomically: build everything in a temp folder, then rename it into place.

A reader of `OUT/runs/<as_of>/` sees either the previous complete run or the new complete run,
never a half-written one. Leftover temp folders of killed runs are removed on the next publish.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import pandas as pd

TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"


def run_dir(out_dir: Path, as_of: date) -> Path:
    return Path(out_dir) / "runs" / as_of.isoformat()


def publish_run(
    out_dir: Path,
    as_of: date,
    run_id: str,
    tables: Mapping[str, pd.DataFrame],
    summary: dict,
    *,
    finish: Callable[[Path], None] | None = None,
) -> Path:
    """Write `tables` as CSV and `summary` as run_summary.json, then move them into place.

    Parameters
    ----------
    tables : file stem -> frame, e.g. ``{"suggestions": ..., "alerts": ...}``.
    finish : called on the temp folder after the files are written and before the rename
        (builds report.html), so the published folder is complete from its first instant.
    """
    runs = Path(out_dir) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    clean_leftovers(runs)
    tmp = runs / f"{TMP_PREFIX}{run_id}"
    tmp.mkdir()
    for name, frame in tables.items():
        frame.to_csv(tmp / f"{name}.csv", index=False)
    (tmp / "run_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if finish is not None:
        finish(tmp)
    target = run_dir(out_dir, as_of)
    old = runs / f"{OLD_PREFIX}{as_of.isoformat()}--{run_id}"
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old)
    return target


def clean_leftovers(runs: Path) -> None:
    for path in runs.iterdir():
        if path.name.startswith(TMP_PREFIX) and path.is_dir():
            shutil.rmtree(path)
        elif path.name.startswith(OLD_PREFIX) and path.is_dir():
            # A crash between the two renames: the old folder is the only copy if the target
            # is missing, so put it back; otherwise it is stale.
            as_of_target = runs / path.name[len(OLD_PREFIX) :].split("--")[0]
            if as_of_target.exists():
                shutil.rmtree(path)
            else:
                path.rename(as_of_target)
