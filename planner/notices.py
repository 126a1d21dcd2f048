"""Notices for the operator about a published run, sent to a webhook.

The target is the environment variable `VMI_WEBHOOK_URL` (Slack, Mattermost and Teams incoming
webhooks, or any service that accepts a JSON POST). An environment variable rather than a
Prefect block: it works the same for `vmi run` (whose temporary API server has no blocks), a
worker and a test; the secret stays in the worker's environment. Unset means no notices.
Sending never raises: a webhook that is down is logged and the run keeps its own state.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import httpx

from planner.run_folder import REPORT_FILE, read_run_table

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


def critical_alert_counts(folder: Path) -> dict[str, int]:
    """Critical alerts of a published run folder, counted per alert type (from alerts.csv)."""
    alerts = read_run_table(folder, "alerts")
    critical = alerts[alerts["severity"] == "critical"]
    return {str(k): int(v) for k, v in critical["alert_type"].value_counts().sort_index().items()}


def critical_notice(
    flow: Any, flow_run: Any, folder: Path, flow_run_url: str | None = None
) -> dict[str, Any] | None:
    """The notice for a published run with critical alerts; None when it has none."""
    counts = critical_alert_counts(folder)
    if not counts:
        return None
    folder = Path(folder)
    report = folder / REPORT_FILE
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
        "flow_run_url": flow_run_url,
    }
