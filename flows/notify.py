"""Tell the operator about a failed night or a night with critical alerts, through a webhook.

The target is the environment variable `VMI_WEBHOOK_URL` (Slack, Mattermost and Teams incoming
webhooks, or any service that accepts a JSON POST). An environment variable rather than a
Prefect block: it works the same for `vmi run` (whose temporary API server has no blocks), a
worker and a test; the secret stays in the worker's environment; and the notice carries what
only the run knows (its as-of, the counts of critical alerts, the report's path). Unset means
no notices.

The functions here are Prefect flow state hooks, `hook(flow, flow_run, state)`. A hook never
raises: a webhook that is down is logged and the run keeps its own final state.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx

WEBHOOK_ENV = "VMI_WEBHOOK_URL"
TIMEOUT_SECONDS = 10.0

log = logging.getLogger("vmi.notify")


def webhook_url() -> str | None:
    """The configured webhook address, or None when notices are switched off."""
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    return url or None


def post_notice(payload: dict[str, Any], url: str | None = None) -> bool:
    """POST `payload` as JSON; True when the receiver accepted it (2xx).

    Parameters
    ----------
    payload : the notice; `text` is what chat services show.
    url : target address; default `webhook_url()`. Nothing is sent when there is none.

    Returns
    -------
    bool
        False when nothing was sent or the receiver failed; the reason is logged, never raised.
    """
    url = url or webhook_url()
    if url is None:
        return False
    try:
        response = httpx.post(url, json=payload, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
    except Exception as exc:  # a notice must never turn into the run's error
        log.warning("webhook notice to %s failed: %s: %s", url, type(exc).__name__, exc)
        return False
    return True


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


def critical_alert_counts(folder: Path) -> dict[str, int]:
    """Critical alerts of a published run folder, counted per alert type (from alerts.csv)."""
    import pandas as pd

    alerts = pd.read_csv(Path(folder) / "alerts.csv", usecols=["alert_type", "severity"])
    critical = alerts[alerts["severity"] == "critical"]
    return {str(k): int(v) for k, v in critical["alert_type"].value_counts().sort_index().items()}


def critical_notice(flow: Any, flow_run: Any, folder: Path) -> dict[str, Any] | None:
    """The notice for a published run with critical alerts; None when it has none."""
    counts = critical_alert_counts(folder)
    if not counts:
        return None
    folder = Path(folder)
    report = folder / "report.html"
    listing = ", ".join(f"{n} {t}" for t, n in counts.items())
    return {
        "event": "vmi.run.critical_alerts",
        "text": (
            f"VMI run {folder.name}: {sum(counts.values())} critical alert(s) ({listing}). "
            f"Report: {report}"
        ),
        "flow_name": getattr(flow, "name", None),
        "flow_run_id": str(getattr(flow_run, "id", "")),
        "flow_run_name": getattr(flow_run, "name", None),
        "as_of": folder.name,
        "critical_alerts": counts,
        "report": str(report),
        "report_url": report.resolve().as_uri(),
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
        payload = critical_notice(flow, flow_run, folder) if folder else None
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
    """The as-of the failed run had resolved, read from pipeline.runs (best effort).

    The run wrote its `pipeline.runs` row after the flow run started; the newest such row is
    this run's. Read-only, and given up at once if another process holds the file.
    """
    params = getattr(flow_run, "parameters", None) or {}
    warehouse = params.get("warehouse")
    started = getattr(flow_run, "start_time", None)
    if not warehouse or started is None or not Path(warehouse).is_file():
        return None
    try:
        from warehouse import connect
        from warehouse.runs import as_of_of_run_started_since

        with connect(warehouse, read_only=True) as con:
            as_of = as_of_of_run_started_since(con, started.astimezone(UTC).replace(tzinfo=None))
    except Exception:
        return None
    return as_of.isoformat() if as_of else None
