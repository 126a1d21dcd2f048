"""Forecast speed at nightly scale: 10,000 weekly dealer x SKU series x 104 weeks.

Generates realistic weekly dealer demand in-process with numpy (negative-binomial sizes,
smooth to lumpy rates, yearly seasonality, trends, promotions, new and dying SKUs,
stockout-censored weeks as NaN), times ``forecasting.forecast_with_diagnostics`` and scores
the 13 held-out weeks. With ``--statsforecast`` the same data go, through a parquet file, to
statsforecast (AutoETS season_length=52 and CrostonOptimized) running in its own virtualenv
at benchmarks/.envs/statsforecast, created on first use from the pinned
benchmarks/requirements-statsforecast.txt (pandas<3 stays out of the product). With
``--pooled`` the same series are forecast a second time with seasonal profiles pooled by SKU
category (``forecasting.seasonal_profiles`` once over the panel, then ``profiles=``, as the
nightly flow does); ``--category-season`` draws each series' yearly season from its category
(shared phase and amplitude, per-series jitter) instead of independently. Prints one JSON line.

    python benchmarks/bench_forecast_speed.py [--series 10000] [--n-jobs 2] [--statsforecast]
        [--pooled] [--category-season]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecasting import forecast_with_diagnostics, seasonal_profiles  # noqa: E402

WEEKS, HORIZON, SEASON = 104, 13, 52
START = pd.Timestamp("2023-01-02")  # a Monday
SF_ENV = ROOT / "benchmarks" / ".envs" / "statsforecast"
SF_REQUIREMENTS = ROOT / "benchmarks" / "requirements-statsforecast.txt"  # pinned, pandas<3
#: SKU categories for --pooled: SKU S<k> belongs to category k % N_CATEGORIES.
N_CATEGORIES = 10


def series_ids(n_series: int) -> list[str]:
    return [f"D{i // 50:04d}-S{i % 50:02d}" for i in range(n_series)]


def category_of(n_series: int) -> np.ndarray:
    return (np.arange(n_series) % 50) % N_CATEGORIES


def dealer_demand(n_series: int, seed: int = 0, category_season: bool = False) -> pd.DataFrame:
    """Long frame ``unique_id, ds, y`` of ``WEEKS + HORIZON`` weeks per series."""
    rng = np.random.default_rng(seed)
    n_weeks = WEEKS + HORIZON
    t = np.arange(n_weeks)
    rate = np.exp(rng.normal(-0.4, 1.4, n_series))  # median ~0.7 units/week, long right tail
    amplitude = rng.uniform(0, 0.6, n_series)
    phase = rng.uniform(0, 2 * np.pi, n_series)
    if category_season:  # own stream: the default data stay exactly as they were
        shared = np.random.default_rng([seed, 1])
        category = category_of(n_series)
        category_amplitude = shared.uniform(0, 0.6, N_CATEGORIES)
        amplitude = category_amplitude[category] * shared.uniform(0.7, 1.3, n_series)
        phase = shared.uniform(0, 2 * np.pi, N_CATEGORIES)[category]
        phase = phase + shared.normal(0, 0.3, n_series)
    trend = rng.normal(0, 0.004, n_series)
    mean = (
        rate[:, None]
        * (1 + amplitude[:, None] * np.sin(2 * np.pi * t / 52 + phase[:, None]))
        * np.exp(trend[:, None] * (t - WEEKS))
    )
    promotions = rng.random((n_series, n_weeks)) < 0.02
    mean = np.where(promotions, mean * 3, mean)
    dying = rng.random(n_series) < 0.05
    death_week = rng.integers(40, WEEKS, n_series)
    mean[dying[:, None] & (t[None, :] >= death_week[:, None])] = 0
    dispersion = rng.uniform(0.4, 6, n_series)[:, None]
    y = rng.negative_binomial(dispersion, dispersion / (dispersion + mean)).astype(float)
    censored = (rng.random(n_series) < 0.2)[:, None] & (rng.random((n_series, n_weeks)) < 0.04)
    censored[:, WEEKS:] = False  # held-out weeks stay observed so they can be scored
    y[censored] = np.nan
    first_week = np.where(rng.random(n_series) < 0.1, rng.integers(20, WEEKS - 1, n_series), 0)
    keep = t[None, :] >= first_week[:, None]  # new SKUs: history starts late
    ids = np.repeat(series_ids(n_series), n_weeks)
    ds = np.tile(pd.date_range(START, periods=n_weeks, freq="W-MON").values, n_series)
    frame = pd.DataFrame({"unique_id": ids, "ds": ds, "y": y.ravel()})
    return frame[keep.ravel()].reset_index(drop=True)


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cutoff = START + pd.Timedelta(weeks=WEEKS)
    return frame[frame.ds < cutoff], frame[frame.ds >= cutoff]


def accuracy(history: pd.DataFrame, test: pd.DataFrame, frame: pd.DataFrame, column: str) -> dict:
    """Mean MASE (lag-1 in-sample scale), WAPE, bias and 95% coverage over held-out weeks."""
    merged = test.merge(frame, on=["unique_id", "ds"], how="inner")
    scale = history.assign(d=history.groupby("unique_id").y.diff().abs()).groupby("unique_id").d
    scale = scale.mean().rename("scale")
    merged = merged.merge(scale, left_on="unique_id", right_index=True)
    merged["abs_error"] = (merged[column] - merged.y).abs()
    per_series = merged.groupby("unique_id").agg(
        mae=("abs_error", "mean"), scale=("scale", "first")
    )
    per_series = per_series[per_series.scale > 0]
    result = {
        "mase": round(float((per_series.mae / per_series.scale).mean()), 4),
        "wape": round(float(merged.abs_error.sum() / merged.y.abs().sum()), 4),
        "bias": round(float((merged[column] - merged.y).mean() / merged.y.mean()), 4),
    }
    if f"{column}_lo" in merged:
        inside = (merged.y >= merged[f"{column}_lo"]) & (merged.y <= merged[f"{column}_hi"])
        result["coverage_95"] = round(float(inside.mean()), 4)
    return result


class TreeMemory:
    """Peak resident memory of this process plus its descendants (pool workers), by polling /proc.

    ``ru_maxrss`` of RUSAGE_CHILDREN misses forkserver workers (they are the server's children,
    not ours), so the process tree is summed every 0.1 s instead.
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            self.peak_mb = max(self.peak_mb, _tree_rss_mb(os.getpid()))


def _tree_rss_mb(root: int) -> float:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    total_kb = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def ensure_statsforecast_env() -> Path | None:
    python = SF_ENV / "bin" / "python"
    if python.exists():
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(SF_ENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(SF_REQUIREMENTS)],
            check=True,
        )
    except (subprocess.CalledProcessError, OSError) as error:
        print(f"statsforecast: skipped, could not build {SF_ENV}: {error}", file=sys.stderr)
        return None
    return python


def run_statsforecast(history: pd.DataFrame, n_jobs: int) -> tuple[pd.DataFrame, dict] | None:
    python = ensure_statsforecast_env()
    if python is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        data, out = Path(folder) / "history.parquet", Path(folder) / "forecast.parquet"
        history.to_parquet(data)
        driver = Path(folder) / "driver.py"
        driver.write_text(STATSFORECAST_DRIVER)
        completed = subprocess.run(
            [str(python), str(driver), str(data), str(out), str(n_jobs), str(HORIZON)],
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            print(f"statsforecast: skipped, run failed: {completed.stderr[-500:]}", file=sys.stderr)
            return None
        return pd.read_parquet(out), json.loads(completed.stdout.strip().splitlines()[-1])


STATSFORECAST_DRIVER = """
import json, resource, sys, time
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, CrostonOptimized, HistoricAverage

data, out, n_jobs, horizon = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
history = pd.read_parquet(data)
# statsforecast needs complete series: censored weeks are filled with 0, as a user would have to.
history["y"] = history["y"].fillna(0.0)
started = time.perf_counter()
# CrostonOptimized has no intervals of its own: AutoETS runs with level=[95], Croston without.
# AutoETS raises on very short series (new SKUs): the historic mean stands in for them.
ets = StatsForecast(
    models=[AutoETS(season_length=52)], freq="W-MON", n_jobs=n_jobs,
    fallback_model=HistoricAverage(),
)
frame = ets.forecast(df=history, h=horizon, level=[95])
croston = StatsForecast(models=[CrostonOptimized()], freq="W-MON", n_jobs=n_jobs)
frame = frame.merge(croston.forecast(df=history, h=horizon), on=["unique_id", "ds"])
seconds = time.perf_counter() - started
frame.reset_index().to_parquet(out)
print(json.dumps({
    "seconds": seconds,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def build_dealer_warehouse(folder: Path, dealers: int, skus: int, seed: int) -> tuple[Path, dict]:
    """``vmi generate`` + ``vmi run`` on a fresh world; the run's forecast stage timing."""
    from sampledata import generate

    landing, warehouse, out = folder / "landing", folder / "warehouse.duckdb", folder / "out"
    generate(landing, dealers=dealers, skus=skus, days=730, seed=seed)
    command = [sys.executable, "-m", "flows.cli", "run", "--landing", str(landing)]
    command += ["--warehouse", str(warehouse), "--out", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if run.returncode != 0:
        raise SystemExit(f"vmi run on the generated world failed:\n{run.stderr[-3000:]}")
    summary = json.loads(next(out.glob("runs/*/run_summary.json")).read_text())
    stage = next(s for s in summary["stages"] if s["name"] == "forecast")
    return warehouse, {
        "seconds": stage["seconds"],
        "series_per_second": round(stage["rows"] / stage["seconds"], 1),
    }


def stage_figures(args: argparse.Namespace) -> dict:
    """The nightly forecast stage's own path on generated dealer series (see the module doc)."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("PREFECT_HOME", str(Path(folder) / "prefect-home"))
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        result: dict = {"dealers": args.dealers, "skus": args.skus}
        if args.warehouse:
            warehouse, result = Path(args.warehouse), {"warehouse": args.warehouse}
        else:
            warehouse, result["vmi_run_forecast_stage"] = build_dealer_warehouse(
                Path(folder), args.dealers, args.skus, args.seed
            )
        from flows import tasks
        from flows.nightly import forecast_demand
        from flows.prefect_api import prefect_api
        from flows.settings import RunSettings

        settings = RunSettings.from_args(folder, warehouse, Path(folder) / "bench-out")
        history, horizon, profiles = tasks.load_history.fn(settings)
        n_series = history["unique_id"].nunique()
        started = time.perf_counter()
        _, diagnostics = forecast_with_diagnostics(
            history, horizon=horizon, profiles=profiles, n_jobs=args.n_jobs, **tasks.SEASON
        )
        seconds = time.perf_counter() - started
        result.update(
            series=n_series,
            demand_classes=diagnostics.demand_class.value_counts().to_dict(),
            forecast_with_diagnostics={
                "n_jobs": args.n_jobs,
                "seconds": round(seconds, 2),
                "series_per_second": round(n_series / seconds, 1),
            },
        )
        with prefect_api():
            runner = tasks.forecast_task_runner(settings)
            started = time.perf_counter()
            forecast_demand.with_options(task_runner=runner)(settings)
            seconds = time.perf_counter() - started
        result["forecast_demand_subflow"] = {
            "task_runner": type(runner).__name__,
            "workers": getattr(runner, "_max_workers", None),
            "seconds": round(seconds, 2),
            "series_per_second": round(n_series / seconds, 1),
        }
    return result


def side_by_side(result: dict) -> str:
    """One line per figure, series/s first."""
    lines = [f"{result['forecasting']['series_per_second']:>8} series/s  synthetic series, "
             f"forecast_with_diagnostics n_jobs={result['n_jobs']}"]  # fmt: skip
    stage = result.get("stage")
    if stage:
        fwd, flow = stage["forecast_with_diagnostics"], stage["forecast_demand_subflow"]
        world = f"{stage['series']} dealer series"
        lines.append(f"{fwd['series_per_second']:>8} series/s  {world}, forecast_with_diagnostics "
                     f"n_jobs={fwd['n_jobs']} (nightly's arguments)")  # fmt: skip
        lines.append(f"{flow['series_per_second']:>8} series/s  {world}, forecast-demand subflow "
                     f"on {flow['task_runner']}")  # fmt: skip
        if "vmi_run_forecast_stage" in stage:
            run = stage["vmi_run_forecast_stage"]
            lines.append(f"{run['series_per_second']:>8} series/s  {world}, vmi run's forecast "
                         "stage (subflow + storing the forecasts)")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--statsforecast", action="store_true", help="also run statsforecast")
    parser.add_argument("--pooled", action="store_true", help="also run with pooled seasonality")
    parser.add_argument(
        "--category-season", action="store_true", help="seasons shared by SKU category"
    )
    parser.add_argument("--dealers", type=int, default=10, help="dealer world for the stage")
    parser.add_argument("--skus", type=int, default=200, help="SKUs of the dealer world")
    parser.add_argument("--warehouse", help="reuse the warehouse of an earlier vmi run")
    parser.add_argument("--no-stage", action="store_true", help="synthetic series only")
    args = parser.parse_args(argv)

    history, test = split(dealer_demand(args.series, args.seed, args.category_season))
    with TreeMemory() as memory:
        started = time.perf_counter()
        frame, diagnostics = forecast_with_diagnostics(
            history, horizon=HORIZON, season_length=SEASON, freq="W-MON", n_jobs=args.n_jobs
        )
        seconds = time.perf_counter() - started
    result = {
        "benchmark": "forecast_speed",
        "series": args.series,
        "weeks": WEEKS,
        "horizon": HORIZON,
        "n_jobs": args.n_jobs,
        "category_season": args.category_season,
        "forecasting": {
            "seconds": round(seconds, 2),
            "series_per_second": round(args.series / seconds, 1),
            "peak_rss_mb": {
                "main_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "process_tree": round(memory.peak_mb, 1),
            },
            **accuracy(history, test, frame, "yhat"),
            "demand_classes": diagnostics.demand_class.value_counts().to_dict(),
            "models": diagnostics.model.value_counts().to_dict(),
        },
    }
    if args.pooled:
        groups = pd.DataFrame(
            {"unique_id": series_ids(args.series), "category": category_of(args.series)}
        )
        started = time.perf_counter()
        profiles = seasonal_profiles(history, groups=groups, season_length=SEASON, freq="W-MON")
        profile_seconds = time.perf_counter() - started
        pooled_frame, pooled_diagnostics = forecast_with_diagnostics(
            history,
            horizon=HORIZON,
            season_length=SEASON,
            freq="W-MON",
            n_jobs=args.n_jobs,
            profiles=profiles,
        )
        seconds = time.perf_counter() - started
        seasonal = pooled_diagnostics.model.str.endswith("+season")
        result["pooled"] = {
            "seconds": round(seconds, 2),
            "profile_seconds": round(profile_seconds, 2),
            "series_per_second": round(args.series / seconds, 1),
            **accuracy(history, test, pooled_frame, "yhat"),
            "seasonal_share": round(float(seasonal.mean()), 4),
        }
    if args.statsforecast:
        peer = run_statsforecast(history, args.n_jobs)
        if peer is None:
            result["statsforecast"] = "skipped"
        else:
            sf_frame, timing = peer
            sf_frame = sf_frame.rename(
                columns={"AutoETS-lo-95": "AutoETS_lo", "AutoETS-hi-95": "AutoETS_hi"}
            )
            sf_frame["ds"] = pd.to_datetime(sf_frame["ds"])
            result["statsforecast"] = {
                "seconds": round(timing["seconds"], 2),
                "series_per_second": round(args.series / timing["seconds"], 1),
                "peak_rss_mb": round(timing["peak_rss_mb"], 1),
                "AutoETS": accuracy(history, test, sf_frame, "AutoETS"),
                "CrostonOptimized": accuracy(history, test, sf_frame, "CrostonOptimized"),
            }
    if not args.no_stage:
        result["stage"] = stage_figures(args)
    print(side_by_side(result), file=sys.stderr)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
