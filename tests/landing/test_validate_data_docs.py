"""Data Docs per run: this run's validation results rendered beside the suites, history bounded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from landing.ingest import ingest_landing
from landing.validate import PROJECT_ROOT, build_data_docs

DEALERS = (
    "dealer_id,dealer_name,region,territory,lead_time_days,lead_time_sd_days,review_period_days\n"
    "D1,One,North,T1,7,1,7\n"
)
SKUS = "sku,description,category,unit_cost,pack_size,moq\nS1,Widget,c,10,6,0\n"


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the GX project with an empty uncommitted/ (Data Docs are written there)."""
    project = tmp_path / "expectations"
    shutil.copytree(PROJECT_ROOT, project, ignore=shutil.ignore_patterns("uncommitted"))
    return project


def ingest(tmp_path: Path, name: str, sales: str, project: Path):
    landing = tmp_path / name
    for folder in ("master", "sell_through"):
        (landing / folder).mkdir(parents=True)
    (landing / "master" / "dealers.csv").write_text(DEALERS)
    (landing / "master" / "skus.csv").write_text(SKUS)
    (landing / "sell_through" / "jan.csv").write_text(sales)
    return ingest_landing(landing, duckdb.connect(), run_id=name, as_of=None)


def test_run_results_are_trimmed_rendered_and_old_runs_pruned(tmp_path, project):
    bad_rows = "".join(f"D1,S{n},2024-01-05,3\n" for n in range(2, 40))  # 38 unknown SKUs
    first = ingest(tmp_path, "run-1", "dealer_id,sku,date,qty_sold\n" + bad_rows, project)
    # One result per validated batch: dealers, skus, sell_through.
    assert sorted(r.suite_name for r in first.validations) == ["dealers", "sell_through", "skus"]
    sales = next(r for r in first.validations if r.suite_name == "sell_through")
    assert sales.meta["vmi"] == {
        "feed": "sell_through",
        "source_files": ["sell_through/jan.csv"],
        "files_in_batch": 1,
    }
    failed = [r for r in sales.results if not r.success]
    assert [r.expectation_config.meta["rule"] for r in failed] == ["unknown_sku"]
    details = failed[0].result
    # Counts stay; the per-row lists (as long as the batch) are gone, 20 samples are kept.
    assert details["unexpected_count"] == 38
    assert "unexpected_index_list" not in details and "unexpected_list" not in details
    assert len(details["partial_unexpected_list"]) == 20

    index = build_data_docs(first.validations, run_name="run-1", project_root=project)
    site = project / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert index == site / "index.html" and index.is_file()
    pages = sorted(p.relative_to(site).parts[:3] for p in (site / "validations").rglob("*.html"))
    assert pages == [
        ("validations", "dealers", "run-1"),
        ("validations", "sell_through", "run-1"),
        ("validations", "skus", "run-1"),
    ]
    assert {p.stem for p in (site / "expectations").glob("*.html")} >= {"sell_through"}
    assert "run-1" in index.read_text()
    page = next((site / "validations" / "sell_through").rglob("*.html")).read_text()
    assert "S2" in page  # an unexpected value is shown

    second = ingest(tmp_path, "run-2", "dealer_id,sku,date,qty_sold\nD1,S1,2024-01-06,1\n", project)
    build_data_docs(second.validations, run_name="run-2", project_root=project, keep_runs=1)
    runs_with_pages = {p.parts[-3] for p in (site / "validations").rglob("*.html")}
    assert runs_with_pages == {"run-2"}
    stored = project / "gx" / "uncommitted" / "validations"
    assert {p.parent.parent.name for p in stored.rglob("*.json")} == {"run-2"}
    assert not (stored / "sell_through" / "run-1").exists()
    assert "run-1" not in index.read_text() and "run-2" in index.read_text()
    # A stored result is plain JSON without the per-row index lists.
    payload = json.loads(next(stored.rglob("sell_through-*.json")).read_text())
    assert all("unexpected_index_list" not in r["result"] for r in payload["results"])


def test_suites_only_and_run_name_required(project):
    index = build_data_docs(project_root=project)
    assert index.is_file()
    with pytest.raises(ValueError, match="run_name"):
        build_data_docs([object()], project_root=project)
