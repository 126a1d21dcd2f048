"""The report's Prefect artifact: a link to the workbench's page for the run when
VMI_PUBLIC_URL is set, else the file's path as text (a file:// link does nothing in the UI)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.runtime import flow_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "planner"))
from test_report import make_run_folder  # noqa: E402

from flows.artifacts import publish_artifacts  # noqa: E402
from planner.report import build_report  # noqa: E402

AS_OF = "2025-06-30"


@flow
def publish_in_a_flow_run(folder: str) -> str:
    publish_artifacts(Path(folder))
    return str(flow_run.id)


def artifacts_of(flow_run_id: str) -> dict[str, tuple[str, str]]:
    """key -> (type, markdown) of the artifacts a flow run created (a link is markdown too)."""
    found = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:
        return {a.key: (a.type, str(a.data)) for a in client.read_artifacts(artifact_filter=found)}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = make_run_folder(tmp_path_factory.mktemp("out"), AS_OF)
    return build_report(folder)


def test_with_vmi_public_url_the_artifacts_link_to_the_workbench(prefect_api, report, monkeypatch):
    monkeypatch.setenv("VMI_PUBLIC_URL", "https://vmi.example.com/")
    found = artifacts_of(publish_in_a_flow_run(str(report.parent)))
    url = f"https://vmi.example.com/runs/{AS_OF}/report"
    assert f"[Planner report]({url})" in found["vmi-report"][1]
    assert f"[report.html]({url})" in found["vmi-run-summary"][1]
    assert not any("file://" in data for _, data in found.values())


def test_without_vmi_public_url_the_artifacts_name_the_file_as_text(
    prefect_api, report, monkeypatch
):
    monkeypatch.delenv("VMI_PUBLIC_URL", raising=False)
    found = artifacts_of(publish_in_a_flow_run(str(report.parent)))
    assert f"`{report.resolve()}`" in found["vmi-report"][1]
    assert f"`{report.resolve()}`" in found["vmi-run-summary"][1]
    assert not any("file://" in data or "](" in data for _, data in found.values())
