"""Backfill: the nightly run (a subflow each) for every as-of of a range, oldest first.

A rerun of an as-of replaces its earlier outputs and re-delivered files are known by their hash,
so a backfill run twice never double counts. The first failing date stops it; rerun from there.
"""

from __future__ import annotations

from datetime import date, timedelta

from prefect import flow, get_run_logger

from flows.nightly import nightly_replenishment
from flows.notify import notify_failure

MAX_DAYS = 366


def as_of_dates(start: date, end: date) -> list[date]:
    """Every date from `start` to `end`, both included, oldest first.

    Raises
    ------
    ValueError
        When `end` is before `start` or the range is longer than `MAX_DAYS` (a typo in a year
        should not start a thousand runs).
    """
    if end < start:
        raise ValueError(f"backfill: end {end} is before start {start}")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise ValueError(f"backfill: {days} days is more than {MAX_DAYS}; split the range")
    return [start + timedelta(days=i) for i in range(days)]


@flow(name="backfill-replenishment", log_prints=True, on_crashed=[notify_failure])
def backfill(
    start: date,
    end: date,
    landing: str | None = None,
    warehouse: str | None = None,
    out: str | None = None,
    policy_config: str | None = None,
) -> list[str]:
    """Run the nightly flow for each as-of from `start` to `end`; return the published folders.

    Parameters
    ----------
    landing, warehouse, out, policy_config : as for `nightly_replenishment`.
    start, end : first and last as-of date, both included.
    """
    logger = get_run_logger()
    days = as_of_dates(start, end)
    folders: list[str] = []
    for number, as_of in enumerate(days, start=1):
        logger.info("backfill %d/%d: as-of %s", number, len(days), as_of)
        folder = nightly_replenishment.with_options(flow_run_name=f"backfill-{as_of}")(
            landing=landing,
            warehouse=warehouse,
            out=out,
            as_of=as_of,
            policy_config=policy_config,
        )
        folders.append(folder)
    logger.info("backfill published %d run(s): %s .. %s", len(folders), days[0], days[-1])
    return folders
