"""Prefect flow state hooks, `hook(flow, flow_run, state)`, that tell the operator about a failed
night or a night with critical alerts through the webhook of planner/notices.py (VMI_WEBHOOK_URL).

A hook never raises: a webhook that is down is logged and the run keeps its own final state.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from planner.notices import WEBHOOK_ENV, critical_notice, post_notice, webhook_url
from warehouse.runs import resolved_as_of

__all__ = ["WEBHOOK_ENV", "notify_critical_alerts", "notify_failure"]
log = logging.getLogger("vmi.notify")


def failure_notice(flow: Any, flow_run: Any, state: Any) -> dict[str, Any]:
    """The notice for a run that failed or crashed."""
    params = dict(getattr(flow_run, "parameters", None) or {})
    as_of = params.get("as_of") or _warehouse_as_of(flow_run)
    message = getattr(state, "message", None) or ""
    kind = "crashed" if getattr(state, "is_crashed", lambda: False)() else "failed"
    name = getattr(flow, "name", None) or "flow"
    text = (
        f"VMI {name} run {getattr(flow_run, 'name', '')} {kind}"
        f"{f' (as-of {as_of})' if as_of else ''}: {message}"
        " - nothing was published for this run."
    )
    return {
        "event": f"vmi.run.{kind}",
        "text": text,
        "flow_name": name,
        "flow_run_id": str(getattr(flow_run, "id", "")),
        "flow_run_name": getattr(flow_run, "name", None),
        "state": getattr(state, "name", None),
        "message": message,
        "as_of": str(as_of) if as_of else None,
        "warehouse": params.get("warehouse"),
        "flow_run_url": _flow_run_url(flow_run),
    }


def notify_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """State hook for on_failure / on_crashed: post the failure notice."""
    if webhook_url() is None:
        return
    try:
        payload = failure_notice(flow, flow_run, state)
    except Exception as exc:  # still say that the run failed, with what is certain
        log.warning("could not build the failure notice: %s", exc)
        payload = {
            "event": "vmi.run.failed",
            "text": f"VMI run {getattr(flow_run, 'id', '')} failed",
            "flow_run_id": str(getattr(flow_run, "id", "")),
        }
    post_notice(payload)


def notify_critical_alerts(flow: Any, flow_run: Any, state: Any) -> None:
    """State hook for on_completion: post a notice when the run has critical alerts."""
    if webhook_url() is None:
        return
    try:
        folder = _published_folder(flow_run, state)
        payload = (
            critical_notice(flow, flow_run, folder, _flow_run_url(flow_run)) if folder else None
        )
    except Exception as exc:
        log.warning("could not read the run's alerts for a notice: %s", exc)
        return
    if payload is not None:
        post_notice(payload)


def _published_folder(flow_run: Any, state: Any) -> Path | None:
    """The run folder the flow returned (its result), if it is there."""
    try:
        result = state.result(raise_on_failure=False)
    except Exception:
        return None
    if isinstance(result, str | Path) and (Path(result) / "alerts.csv").is_file():
        return Path(result)
    return None


def _flow_run_url(flow_run: Any) -> str | None:
    try:
        from prefect.utilities.urls import url_for

        return url_for(flow_run)
    except Exception:
        return None


def _warehouse_as_of(flow_run: Any) -> str | None:
    """The as-of the failed run had resolved: its pipeline.runs row was written after the flow
    run started, so the newest such row is this run's."""
    params = getattr(flow_run, "parameters", None) or {}
    return resolved_as_of(params.get("warehouse"), getattr(flow_run, "start_time", None))
