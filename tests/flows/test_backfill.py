"""Backfill: one nightly run per as-of, oldest first; reruns replace, nothing is counted twice."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from flows.backfill import MAX_DAYS, as_of_dates


def test_as_of_dates_covers_both_ends_in_order():
    assert as_of_dates(date(2026, 2, 27), date(2026, 3, 2)) == [
        date(2026, 2, 27),
        date(2026, 2, 28),
        date(2026, 3, 1),
        date(2026, 3, 2),
    ]
    assert as_of_dates(date(2026, 1, 1), date(2026, 1, 1)) == [date(2026, 1, 1)]


def test_as_of_dates_refuses_reversed_or_huge_ranges():
    with pytest.raises(ValueError, match="before start"):
        as_of_dates(date(2026, 1, 2), date(2026, 1, 1))
    with pytest.raises(ValueError, match="split the range"):
        as_of_dates(date(2024, 1, 1), date(2024, 1, 1) + timedelta(days=MAX_DAYS))


def newest_landing_date(landing: Path) -> date:
    """Newest sell-through date, read from the landing files themselves."""
    frames = [
        pd.read_csv(p) if p.suffix == ".csv" else pd.read_parquet(p)
        for p in (landing / "sell_through").iterdir()
    ]
    return pd.to_datetime(pd.concat(frames)["date"]).max().date()


@pytest.fixture(scope="module")
def backfilled(prefect_api, tmp_path_factory):
    """A fresh warehouse backfilled over the newest two feed dates (each date is a whole nightly
    run: two show the order and the replacing as well as more would)."""
    from flows.backfill import backfill
    from sampledata import generate

    base = tmp_path_factory.mktemp("backfill")
    landing = base / "landing"
    generate(landing, dealers=4, skus=12, days=200, start=None, seed=5)
    newest = newest_landing_date(landing)
    days = [newest - timedelta(days=n) for n in (1, 0)]
    warehouse, out = base / "wh.duckdb", base / "out"
    folders = backfill(
        landing=str(landing), warehouse=str(warehouse), out=str(out), start=days[0], end=days[-1]
    )
    return landing, warehouse, out, days, [Path(f) for f in folders], newest


@pytest.mark.slow
def test_backfill_publishes_one_folder_and_one_run_per_date(backfilled):
    _, warehouse, out, days, folders, _ = backfilled
    assert [f.name for f in folders] == [d.isoformat() for d in days]
    assert sorted(p.name for p in (out / "runs").iterdir()) == [d.isoformat() for d in days]
    for day, folder in zip(days, folders, strict=True):
        summary = json.loads((folder / "run_summary.json").read_text())
        assert summary["as_of"] == day.isoformat()
        assert (folder / "suggestions.csv").is_file()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        per_as_of = con.execute(
            "select as_of, count(distinct run_id) from pipeline.suggestions group by 1 order by 1"
        ).fetchall()
        runs = con.execute("select as_of, status from pipeline.runs order by started_at").fetchall()
    assert per_as_of == [(d, 1) for d in days]
    assert runs == [(d, "published") for d in days]  # run in order, oldest first
    # Each night's as-of and run id reach dbt in the environment, not in --vars
    # (flows/dbt_build.py RUN_VALUES): of the four builds on this warehouse only the first
    # parsed the whole project, the later ones started from the parse it saved.
    log = (Path(f"{warehouse}.dbt-target") / "logs" / "dbt.log").read_text()
    assert log.count("Running with dbt") == 4
    assert log.count("Unable to do partial parsing") == 1


@pytest.mark.slow
def test_backfill_from_an_older_as_of_loses_no_feed_rows(backfilled):
    """The first as-of is older than the newest rows: they are kept, not quarantined as future,
    so the later as-ofs (and tomorrow's nightly) still see them."""
    _, warehouse, _, _, _, newest = backfilled
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded_newest = con.execute("select max(date) from raw.sell_through").fetchone()[0]
        future = con.execute(
            "select count(*) from raw.quarantine where rule = 'future_date'"
        ).fetchone()[0]
    assert loaded_newest == newest
    assert future == 0


@pytest.mark.slow
def test_rerunning_a_date_replaces_its_outputs(backfilled):
    from flows.backfill import backfill

    landing, warehouse, out, days, _, _ = backfilled
    with duckdb.connect(str(warehouse), read_only=True) as con:
        before = con.execute(
            "select as_of, run_id from pipeline.runs where status = 'published'"
        ).fetchall()
        rows_before = con.execute("select count(*) from pipeline.suggestions").fetchone()[0]
    # The older date, once the newer one is published: only its own run is replaced.
    [folder] = backfill(
        landing=str(landing), warehouse=str(warehouse), out=str(out), start=days[0], end=days[0]
    )
    assert Path(folder).name == days[0].isoformat()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        per_as_of = con.execute(
            "select as_of, count(distinct run_id) from pipeline.suggestions group by 1 order by 1"
        ).fetchall()
        rows_after = con.execute("select count(*) from pipeline.suggestions").fetchone()[0]
        statuses = dict(con.execute("select run_id, status from pipeline.runs").fetchall())
        new_run = con.execute(
            "select run_id from pipeline.suggestions where as_of = ?", [days[0]]
        ).fetchone()[0]
        dbt_as_of = con.execute(
            "select as_of_date, is_as_of_from_var from intermediate.int_as_of_date"
        ).fetchone()
        kpi_runs = con.execute(
            "select distinct run_id from reporting.fct_dealer_kpis_by_run where as_of_date = ?",
            [days[0]],
        ).fetchall()
    assert per_as_of == [(d, 1) for d in days]
    assert rows_after == rows_before  # same landing, same pairs: replaced, not added
    old_run = dict(before)[days[0]]
    assert statuses[old_run] == "replaced" and statuses[new_run] == "published"
    assert statuses[dict(before)[days[1]]] == "published"  # the newer date's run is untouched
    assert new_run != old_run
    assert dbt_as_of == (days[0], True)  # dbt built the marts as of the rerun's date, not newest
    assert kpi_runs == [(new_run,)]  # and kept its KPIs under the rerun's id
    summary = json.loads((Path(folder) / "run_summary.json").read_text())
    assert summary["run_id"] == new_run
