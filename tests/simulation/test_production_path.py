"""`vmi simulate` runs the nightly run's forecast and policy path by default.

The expected demand frame is rebuilt here from the simulated world's own arrays and the
functions flows/tasks.py calls (`replenishment.demand.forecast_history`, `forecast_groups`,
`daily_demand`, `replenishment.plan.protection_days`), so a simulation that drifts from the
nightly path (its own spreading, another horizon, a missing argument) fails. Small worlds only.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from functools import cache

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import simulation.closed_loop as closed_loop
from flows.cli import app
from forecasting import forecast_with_diagnostics
from replenishment import demand, plan
from sampledata import build_world
from simulation.closed_loop import REFIT_WEEKS, SETTLE_WEEKS, SIM_START, simulate

TINY = dict(weeks=8, dealers=2, skus=6, seed=3)
# For the comparison with the nightly path: enough pairs and more than a season of history
# that pooled seasonal profiles come into play (most pairs pick a "+season" model).
PANEL = dict(weeks=8, dealers=3, skus=20, seed=3)
WARMUP_WEEKS = 70


@cache
def built(world: tuple, warmup_weeks: int = 52):
    return closed_loop._build(**dict(world), warmup_weeks=warmup_weeks)


def warmup_positions(sim) -> pd.DataFrame:
    seen = closed_loop._Observed(sim.warm_daily, sim.warm_empty)
    return closed_loop._positions(
        sim, 0, sim.on_hand0, sim.arrivals0.sum(axis=1), seen, service_level=0.95
    )


def expected_weekly_demand(sim) -> tuple[pd.DataFrame, pd.DataFrame]:
    """marts.fct_weekly_demand from the warm-up's daily arrays, written out independently, and
    the items (`dealer_id, sku, category, region`) from the world's master data."""
    world = build_world(
        dealers=PANEL["dealers"],
        skus=PANEL["skus"],
        days=7 * (WARMUP_WEEKS + SETTLE_WEEKS + PANEL["weeks"]),
        start=SIM_START,
        seed=PANEL["seed"],
    )
    rows = []
    for i in range(sim.n):
        sales = sim.warm_daily[i].reshape(-1, 7)
        empty = sim.warm_empty[i].reshape(-1, 7)
        # Zero-filled from the week of the pair's first activity: a sale or stock on the shelf.
        active = np.flatnonzero((sales.sum(axis=1) > 0) | ~empty.all(axis=1))
        for w in range(active[0] if active.size else len(sales), len(sales)):
            rows.append(
                {
                    "dealer_id": sim.dealer_id[i],
                    "sku": sim.sku[i],
                    "week_start": pd.Timestamp(world.dates[7 * w]),
                    "qty_sold": float(sales[w].sum()),
                    "is_censored": bool(empty[w].any()),
                }
            )
    assert all(day.weekday() == 0 for day in pd.to_datetime(pd.DataFrame(rows)["week_start"]))
    items = pd.DataFrame({"dealer_id": sim.dealer_id, "sku": sim.sku})
    items = items.merge(world.skus[["sku", "category"]], on="sku").merge(
        world.dealers[["dealer_id", "region"]], on="dealer_id"
    )
    return pd.DataFrame(rows), items


def test_the_default_forecaster_is_the_nightly_forecast_and_spreading():
    sim = built(tuple(PANEL.items()), WARMUP_WEEKS)
    positions = warmup_positions(sim)
    weekly, items = expected_weekly_demand(sim)
    longest = plan.longest_protection_days(positions, demand.HORIZON_LEAD_TIME_SDS)
    history = demand.forecast_history(weekly)
    # The nightly's recipe (flows/tasks.py): profiles pooled once over the panel, then passed
    # to the forecast.
    from forecasting import seasonal_profiles

    groups = demand.forecast_groups(items)
    groups = groups[groups["unique_id"].isin(history["unique_id"])]
    season = dict(season_length=demand.SEASON_LENGTH, freq=demand.FREQ)
    extra = {"profiles": seasonal_profiles(history, groups=groups, **season)}
    forecasts, diagnostics = forecast_with_diagnostics(
        history,
        horizon=demand.horizon_weeks(longest),
        season_length=demand.SEASON_LENGTH,
        freq=demand.FREQ,
        level=95,
        **extra,
    )
    protection = plan.protection_days(positions)
    as_of = pd.Timestamp(sim.dates[0]).date() - pd.Timedelta(days=1)

    # The default forecaster, its fits in chunks on worker processes as the nightly fans out.
    model = closed_loop.FORECASTERS["forecasting"](sim)
    assert model.workers == min(closed_loop.FIT_WORKERS, os.cpu_count() or 1)
    try:
        got = model.demand_frame(0, positions)
    finally:
        model.close()
    expected = demand.daily_demand(forecasts, diagnostics, protection, as_of)
    pd.testing.assert_frame_equal(got, expected)
    assert set(got["forecast_model"]) <= set(diagnostics["model"])

    # Until the next refit a review re-spreads the same forecast from its own as-of.
    every_two = closed_loop._ProductionForecaster(sim, refit_weeks=2, workers=1)
    pd.testing.assert_frame_equal(every_two.demand_frame(0, positions), expected)
    later = every_two.demand_frame(1, positions)
    week_as_of = as_of + pd.Timedelta(days=7)
    expected_later = demand.daily_demand(forecasts, diagnostics, protection, week_as_of)
    pd.testing.assert_frame_equal(later, expected_later)
    assert not later.equals(got)


class Spy:
    """Wraps forecast_with_diagnostics to record how the simulation calls it."""

    def __init__(self) -> None:
        self.calls: list[tuple[pd.DataFrame, dict]] = []

    def __call__(self, history, **kwargs):
        self.calls.append((history, kwargs))
        return forecast_with_diagnostics(history, **kwargs)


@pytest.fixture(scope="module")
def spied():
    spy = Spy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(closed_loop, "forecast_with_diagnostics", spy)
        result = simulate(**TINY, workers=1)  # fits in this process, where the spy sees them
    return result, spy.calls


def test_fits_on_worker_processes_give_the_same_run(spied):
    result, _ = spied
    assert simulate(**TINY, workers=2) == result


def test_simulate_runs_the_production_forecaster_by_default(spied):
    result, calls = spied
    assert result["forecaster"] == "forecasting"
    assert result["baseline_z"] == 1.6449 and result["target_service_level"] == 0.95
    # Refitted on the documented schedule, every REFIT_WEEKS closed-loop weeks.
    assert len(calls) == math.ceil((SETTLE_WEEKS + TINY["weeks"]) / REFIT_WEEKS)
    sim = built(tuple(TINY.items()))
    pairs = {f"{d}{demand.ID_SEP}{s}" for d, s in zip(sim.dealer_id, sim.sku, strict=True)}
    for k, (history, kwargs) in enumerate(calls):
        assert kwargs["season_length"] == demand.SEASON_LENGTH and kwargs["freq"] == demand.FREQ
        assert kwargs["level"] == 95 and "profiles" in kwargs and "groups" not in kwargs
        assert set(history["unique_id"]) <= pairs
        # History up to the Sunday before the refit's review, nothing later.
        last_week = pd.Timestamp(sim.dates[7 * REFIT_WEEKS * k]) - pd.Timedelta(days=7)
        assert history["ds"].max() == last_week


def test_the_policy_of_the_production_run_beats_the_baseline_at_the_same_z(spied):
    result, _ = spied
    assert result["policy"]["fill_rate"] > result["baseline"]["fill_rate"]
    assert result["policy"]["stockout_days"] < result["baseline"]["stockout_days"]


def test_the_cli_writes_the_forecaster_and_the_baseline_z(tmp_path, spied):
    target = tmp_path / "sim.json"
    args = [f"--{k}={v}" for k, v in TINY.items()]
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "simulate", *args, "--json", str(target)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(target.read_text())
    assert data == json.loads(json.dumps(spied[0]))  # the same run as simulate()'s default
    assert "forecaster forecasting" in done.stdout

    raised = tmp_path / "raised.json"
    out = CliRunner().invoke(
        app,
        ["simulate", *args, "--forecaster", "oracle", "--baseline-z", "3", "--json", str(raised)],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(raised.read_text())
    assert (data["forecaster"], data["baseline_z"]) == ("oracle", 3.0)
    assert data == json.loads(json.dumps(simulate(**TINY, forecaster="oracle", baseline_z=3.0)))


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        (["--forecaster", "magic"], "--forecaster: 'magic' is not one of forecasting"),
        (["--baseline-z", "-1"], "--baseline-z: '-1' is not a number >= 0"),
        (["--baseline-z", "lots"], "--baseline-z: 'lots' is not a number >= 0"),
        (["--service-level", "1.5"], "--service-level"),
    ],
)
def test_cli_usage_errors_are_one_line_and_exit_2(tmp_path, option, needle):
    out = CliRunner().invoke(app, ["simulate", *option, "--json", str(tmp_path / "x.json")])
    assert out.exit_code == 2
    assert needle in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()
