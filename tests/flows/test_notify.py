"""Webhook notices: a real HTTP receiver on loopback, real Prefect flow runs calling the hooks."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flows import notify
from planner import notices


class Receiver:
    """A tiny webhook receiver: remembers every JSON body; answers with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict] = []
        self.status = status
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                with receiver.arrived:
                    receiver.bodies.append(json.loads(self.rfile.read(length)))
                    receiver.arrived.notify_all()
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:  # keep pytest output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, predicate, timeout: float = 60.0) -> list[dict]:
        """The bodies matching `predicate`, waiting until one has arrived (or `timeout`).

        A flow run's state hooks run after its terminal state is set, so a test that has seen
        the state must still wait for the hook's notice to arrive.
        """
        with self.arrived:
            self.arrived.wait_for(lambda: any(predicate(b) for b in self.bodies), timeout)
            return [b for b in self.bodies if predicate(b)]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch):
    with Receiver() as r:
        monkeypatch.setenv(notify.WEBHOOK_ENV, r.url)
        yield r


def write_alerts(folder: Path, rows: list[tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["run_id,as_of,alert_type,severity,dealer_id,sku,metric,threshold,message"]
    lines += [f"r1,2026-11-20,{t},{s},D1,S1,1,1,msg" for t, s in rows]
    (folder / "alerts.csv").write_text("\n".join(lines) + "\n")
    (folder / "report.html").write_text("<html></html>")
    return folder


ALERTS = [
    ("stockout_risk", "critical"),
    ("stale_feed", "warning"),
    ("stockout_risk", "critical"),
    ("stale_feed", "critical"),
    ("overstock", "info"),
    ("overstock", "warning"),
]


def test_critical_counts_only_critical_rows_per_type(tmp_path):
    folder = write_alerts(tmp_path / "2026-11-20", ALERTS)
    # By hand from ALERTS: two critical stockout_risk, one critical stale_feed.
    assert notices.critical_alert_counts(folder) == {"stale_feed": 1, "stockout_risk": 2}


def test_no_critical_alerts_means_no_notice(tmp_path):
    folder = write_alerts(tmp_path / "2026-11-20", [("overstock", "warning")])
    assert notices.critical_notice(None, None, folder) is None


def test_post_notice_without_url_sends_nothing(monkeypatch):
    monkeypatch.delenv(notify.WEBHOOK_ENV, raising=False)
    assert notices.webhook_url() is None
    assert notices.post_notice({"text": "x"}) is False


def test_post_notice_reports_receiver_errors_without_raising(monkeypatch):
    with Receiver(status=500) as r:
        assert notices.post_notice({"text": "x"}, url=r.url) is False
        assert r.bodies == [{"text": "x"}]
    # Nobody listening at all (the receiver above is closed now).
    assert notices.post_notice({"text": "x"}, url=r.url) is False


def test_failed_nightly_run_posts_failure_notice_with_its_flow_run_id(
    prefect_api, receiver, tmp_path
):
    """The real nightly flow, failing fast on a landing with master data but no feed rows."""
    from flows.nightly import nightly_replenishment
    from sampledata import generate

    full = tmp_path / "full"
    generate(full, dealers=2, skus=3, days=40, start=None, seed=3)
    landing = tmp_path / "landing"
    shutil.copytree(full / "master", landing / "master")
    state = nightly_replenishment(
        landing=str(landing),
        warehouse=str(tmp_path / "wh.duckdb"),
        out=str(tmp_path / "out"),
        return_state=True,
    )
    assert state.is_failed()
    assert len(receiver.bodies) == 1
    notice = receiver.bodies[0]
    assert notice["event"] == "vmi.run.failed"
    assert notice["flow_run_id"] == str(state.state_details.flow_run_id)
    assert notice["flow_name"] == "nightly-replenishment"
    assert "no sell-through or inventory rows" in notice["message"]
    assert notice["flow_run_id"] in notice["flow_run_url"]
    assert not (tmp_path / "out" / "runs").exists() or not any(
        (tmp_path / "out" / "runs").iterdir()
    )


def test_completed_run_with_critical_alerts_posts_counts_and_report(
    prefect_api, receiver, tmp_path
):
    from prefect import flow

    folder = write_alerts(tmp_path / "runs" / "2026-11-20", ALERTS)

    @flow(on_completion=[notify.notify_critical_alerts])
    def publishes() -> str:
        return str(folder)

    state = publishes(return_state=True)
    assert state.is_completed()
    assert len(receiver.bodies) == 1
    notice = receiver.bodies[0]
    assert notice["event"] == "vmi.run.critical_alerts"
    assert notice["critical_alerts"] == {"stale_feed": 1, "stockout_risk": 2}
    assert notice["as_of"] == "2026-11-20"
    assert notice["report"] == str(folder / "report.html")
    assert notice["flow_run_id"] == str(state.state_details.flow_run_id)


def test_completed_run_without_critical_alerts_stays_quiet(prefect_api, receiver, tmp_path):
    from prefect import flow

    folder = write_alerts(tmp_path / "runs" / "2026-11-20", [("overstock", "warning")])

    @flow(on_completion=[notify.notify_critical_alerts])
    def publishes() -> str:
        return str(folder)

    assert publishes() == str(folder)
    assert receiver.bodies == []


def test_broken_webhook_never_masks_the_runs_result(prefect_api, monkeypatch, tmp_path):
    from prefect import flow

    with Receiver(status=503) as r:
        monkeypatch.setenv(notify.WEBHOOK_ENV, r.url)
        folder = write_alerts(tmp_path / "runs" / "2026-11-20", ALERTS)

        @flow(on_completion=[notify.notify_critical_alerts])
        def publishes() -> str:
            return str(folder)

        @flow(on_failure=[notify.notify_failure])
        def breaks() -> None:
            raise KeyError("the run's own error")

        assert publishes() == str(folder)  # completed, despite the 503
        state = breaks(return_state=True)
        assert len(r.bodies) == 2  # both notices were attempted
    assert state.is_failed()
    with pytest.raises(KeyError, match="the run's own error"):
        state.result()
