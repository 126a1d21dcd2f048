"""GET /runs/<as_of>/report: the run's report.html as published, for signed-in staff only,
sandboxed (its inline scripts run without the workbench's origin)."""

from __future__ import annotations

from conftest import AS_OF

from planner.report import build_report
from planner.run_folder import run_dir


def test_signed_in_staff_get_the_published_report_sandboxed(served, run_out):
    report = build_report(run_dir(run_out, AS_OF))
    viewer, _ = served.signed_in("vic")
    with viewer:
        answer = viewer.get(f"/runs/{AS_OF}/report")
        assert answer.status_code == 200
        assert answer.content == report.read_bytes()
        assert answer.headers["content-type"].startswith("text/html")
        policy = answer.headers["content-security-policy"]
        assert "sandbox allow-scripts" in policy and "default-src 'none'" in policy
        assert viewer.post(f"/runs/{AS_OF}/report").status_code == 405  # read-only
        assert viewer.get("/runs/2025-07-01/report").status_code == 404
        assert viewer.get("/runs/not-a-date/report").status_code == 404


def test_the_report_needs_a_staff_session(served, run_out):
    build_report(run_dir(run_out, AS_OF))
    with served.client() as anonymous:
        answer = anonymous.get(f"/runs/{AS_OF}/report")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    dealer, _ = served.signed_in("dora")
    with dealer:
        assert dealer.get(f"/runs/{AS_OF}/report").status_code == 403


def test_a_run_without_its_report_is_404(served, run_out):
    viewer, _ = served.signed_in("vic")
    with viewer:
        assert viewer.get(f"/runs/{AS_OF}/report").status_code == 404
