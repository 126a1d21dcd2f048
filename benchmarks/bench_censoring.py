"""Stock-out weeks read as sales, as missing or as lower bounds, scored against true demand.

Builds a synthetic dealer world (``sampledata.build_world``), whose generator knows the true
daily demand behind every sale. Per carried dealer x SKU, from the week of its first stock:

- weekly observed sales = true demand - lost sales (what the sell-through feed reports);
- a week is *censored* when on any of its days a sale was lost (``lost_sales > 0``) or the
  shelf ended the day empty (``on_hand_end == 0``);
- the last ``--horizon`` weeks are held out; the weeks before them are the history.

The history goes to ``forecasting.forecast_with_diagnostics`` (weekly, season 52, level 95)
as the nightly run sends it: with ``profiles=`` pooled by ``forecasting.seasonal_profiles``
from the same history over ``replenishment.demand.forecast_groups`` (the SKU's category, the
dealer's region), as the ``load_history`` task does. The history is given in these ways:

- ``nan``: censored weeks as NaN (what the nightly flow did before the ``censored`` column);
- ``sales``: censored weeks as the sales observed in them (stock-outs read as low demand);
- ``lower_bound``: ``y`` = the sales of every week and ``censored`` = the week's flag, the call
  the nightly flow makes (``forecasting.censoring``: censored sales are lower bounds);
- ``lb_truncation``: the same call with ``forecasting.censoring.DEFAULT_METHOD`` set to
  ``"truncation"`` for the run (censored weeks unconstrained by E[D | D >= y]), for comparison;
- ``oracle``: the true weekly demand of every week (an upper bound no real run can reach).

Each forecast is scored against the TRUE demand of the held-out weeks: bias
(sum(forecast - demand) / sum(demand)), WAPE (sum |error| / sum(demand)) and mean MASE (MAE over
the in-sample mean absolute week-on-week change of the true demand history, the same scale for
every variant), over all pairs, over the pairs with at least one censored history week and over
those with at least a quarter of their history weeks censored. The 95% interval is checked
against the true held-out demand and against the observed sales of the uncensored held-out
weeks. The last line checks issue 11's target on the heavily censored pairs (lower-bound bias
within 1 point of the oracle's, WAPE below missing-value handling) and gives the spread of the
bias gap by a paired bootstrap over those pairs: with ~70 of them per seed set it is 1-2.5
points, so one seed set alone can pass or fail the 1-point bar by chance. Prints a table and
one JSON line.

    python benchmarks/bench_censoring.py [--dealers 10] [--skus 60] [--days 730] [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting import censoring, forecast_with_diagnostics, seasonal_profiles  # noqa: E402
from replenishment.demand import FREQ, SEASON_LENGTH, forecast_groups  # noqa: E402
from sampledata import build_world  # noqa: E402

VARIANTS = ("nan", "sales", "lower_bound", "lb_truncation", "oracle")
GROUPS = ("all", "stocked_out", "heavily_censored")
#: Pairs with at least this share of censored history weeks form the "heavily censored" group.
HEAVY_SHARE = 0.25


def weekly_pairs(world) -> pd.DataFrame:
    """One row per carried pair x complete Monday week from the pair's first stock.

    Columns ``unique_id, ds, demand, sales, censored``.
    """
    truth = world.true_demand_frame()
    truth["sales"] = truth["demand"] - truth["lost_sales"]
    truth["censored"] = (truth["lost_sales"] > 0) | (truth["on_hand_end"] <= 0)
    dates = pd.to_datetime(truth["date"])
    truth["ds"] = dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")
    truth["unique_id"] = truth["dealer_id"] + "|" + truth["sku"]
    # The pair's history starts at its first stock or sale, as fct_weekly_demand's does.
    d_idx, s_idx = np.nonzero(world.params.carried)
    first_day = world.supply.first_stock_day[d_idx, s_idx]
    first_date = pd.Series(
        world.dates[np.minimum(first_day, world.days - 1)],
        index=world.params.dealer_ids[d_idx] + "|" + world.params.skus[s_idx],
    ).where(first_day < world.days)  # never stocked: no history
    weeks = truth.groupby(["unique_id", "ds"], sort=True).agg(
        demand=("demand", "sum"),
        sales=("sales", "sum"),
        censored=("censored", "any"),
        days=("demand", "size"),
    )
    weeks = weeks[weeks["days"] == 7].reset_index()
    start = pd.to_datetime(weeks["unique_id"].map(first_date))
    start_week = start - pd.to_timedelta(start.dt.day_of_week, unit="D")
    weeks = weeks[start_week.notna() & (weeks["ds"] >= start_week)]
    return weeks.drop(columns="days").reset_index(drop=True)


def split(weeks: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History and the last ``horizon`` weeks of the world (pairs with too little history out)."""
    cutoff = weeks["ds"].max() - pd.Timedelta(weeks=horizon - 1)
    history, test = weeks[weeks["ds"] < cutoff], weeks[weeks["ds"] >= cutoff]
    long_enough = history.groupby("unique_id").size()
    keep = set(long_enough[long_enough >= 2].index)
    return history[history.unique_id.isin(keep)], test[test.unique_id.isin(keep)]


def variant_history(history: pd.DataFrame, variant: str) -> pd.DataFrame:
    if variant == "nan":
        y = history["sales"].astype(float).where(~history["censored"], np.nan)
    elif variant in ("sales", "lower_bound", "lb_truncation"):
        y = history["sales"].astype(float)
    else:
        y = history["demand"].astype(float)
    frame = pd.DataFrame({"unique_id": history["unique_id"], "ds": history["ds"], "y": y})
    if variant in ("lower_bound", "lb_truncation"):
        frame["censored"] = history["censored"].astype(bool).to_numpy()
    return frame


def scores(merged: pd.DataFrame, scale: pd.Series) -> dict:
    """Bias, WAPE and mean MASE of ``yhat`` against the true ``demand``."""
    error = merged["yhat"] - merged["demand"]
    total = merged["demand"].sum()
    per_pair = error.abs().groupby(merged["unique_id"]).mean()
    pair_scale = scale.reindex(per_pair.index)
    usable = pair_scale > 0
    return {
        "pairs": int(merged["unique_id"].nunique()),
        "bias": round(float(error.sum() / total), 4) if total > 0 else None,
        "wape": round(float(error.abs().sum() / total), 4) if total > 0 else None,
        "mase": round(float((per_pair[usable] / pair_scale[usable]).mean()), 4),
    }


def coverage(merged: pd.DataFrame, column: str, rows: pd.Series | None = None) -> float:
    frame = merged if rows is None else merged[rows]
    inside = (frame[column] >= frame["yhat_lo"]) & (frame[column] <= frame["yhat_hi"])
    return round(float(inside.mean()), 4)


def world_groups(world) -> pd.DataFrame:
    """Pooling keys of every carried pair, as `replenishment.demand.forecast_groups` builds them
    from marts.fct_replenishment_inputs (the SKU's category, the dealer's region)."""
    d_idx, s_idx = np.nonzero(world.params.carried)
    pairs = pd.DataFrame(
        {"dealer_id": world.params.dealer_ids[d_idx], "sku": world.params.skus[s_idx]}
    )
    items = pairs.merge(world.skus[["sku", "category"]], on="sku", how="left").merge(
        world.dealers[["dealer_id", "region"]], on="dealer_id", how="left"
    )
    return forecast_groups(items)


def run_world(dealers: int, skus: int, days: int, seed: int, horizon: int) -> dict:
    world = build_world(dealers=dealers, skus=skus, days=days, seed=seed)
    history, test = split(weekly_pairs(world), horizon)
    # Same MASE scale for every variant: the true demand history's week-on-week change.
    scale = history.groupby("unique_id")["demand"].apply(lambda d: d.diff().abs().mean())
    censored_pairs = set(history.loc[history["censored"], "unique_id"])
    share = history.groupby("unique_id")["censored"].mean()
    heavy_pairs = set(share[share >= HEAVY_SHARE].index)
    result: dict = {
        "seed": seed,
        "pairs": int(history.unique_id.nunique()),
        "pairs_with_stockouts": len(censored_pairs),
        "pairs_heavily_censored": len(heavy_pairs),
        "censored_week_share": round(float(history["censored"].mean()), 4),
        "variants": {},
        "heavy_pair_sums": {},
    }
    groups = world_groups(world)
    season = dict(season_length=SEASON_LENGTH, freq=FREQ)
    for variant in VARIANTS:
        started = time.perf_counter()
        default_method = censoring.DEFAULT_METHOD
        if variant == "lb_truncation":
            censoring.DEFAULT_METHOD = "truncation"  # n_jobs=1: this process only
        try:
            # As the nightly load_history task: profiles pooled from the same history first.
            variant_frame = variant_history(history, variant)
            frame, diagnostics = forecast_with_diagnostics(
                variant_frame,
                horizon=horizon,
                level=95,
                profiles=seasonal_profiles(variant_frame, groups=groups, **season),
                **season,
            )
        finally:
            censoring.DEFAULT_METHOD = default_method
        seconds = time.perf_counter() - started
        merged = test.merge(frame, on=["unique_id", "ds"], how="inner")
        stocked_out = merged["unique_id"].isin(censored_pairs)
        result["variants"][variant] = {
            "seconds": round(seconds, 2),
            "all": scores(merged, scale),
            "stocked_out": scores(merged[stocked_out], scale),
            "heavily_censored": scores(merged[merged["unique_id"].isin(heavy_pairs)], scale),
            "coverage_true_demand": coverage(merged, "demand"),
            "coverage_uncensored_sales": coverage(merged, "sales", ~merged["censored"]),
            "models": diagnostics["model"].value_counts().to_dict(),
        }
        heavy = merged[merged["unique_id"].isin(heavy_pairs)]
        per_pair = heavy.assign(error=heavy["yhat"] - heavy["demand"]).groupby("unique_id")
        result["heavy_pair_sums"][variant] = per_pair[["error", "demand"]].sum()
    return result


def gap_spread(runs: list[dict], draws: int = 1000) -> float:
    """Standard deviation of the heavily censored lower_bound-minus-oracle bias gap, by a paired
    bootstrap over the pairs of each world (the gap is a mean over worlds, as in the table)."""
    rng = np.random.default_rng(0)
    worlds = []
    for run in runs:
        sums = run["heavy_pair_sums"]
        lower, oracle = sums["lower_bound"], sums["oracle"].reindex(sums["lower_bound"].index)
        worlds.append(((lower["error"] - oracle["error"]).to_numpy(), lower["demand"].to_numpy()))
    gaps = np.zeros(draws)
    for difference, demand in worlds:
        picks = rng.integers(0, len(demand), size=(draws, len(demand)))
        gaps += difference[picks].sum(axis=1) / demand[picks].sum(axis=1) / len(worlds)
    return float(np.std(gaps))


def pooled(runs: list[dict]) -> dict:
    """Mean of each figure over the worlds."""
    summary: dict = {}
    for variant in VARIANTS:
        parts = [run["variants"][variant] for run in runs]
        summary[variant] = {
            group: {
                metric: round(float(np.mean([p[group][metric] for p in parts])), 4)
                for metric in ("bias", "wape", "mase")
            }
            for group in GROUPS
        }
        for key in ("coverage_true_demand", "coverage_uncensored_sales"):
            summary[variant][key] = round(float(np.mean([p[key] for p in parts])), 4)
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dealers", type=int, default=10)
    parser.add_argument("--skus", type=int, default=60)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--horizon", type=int, default=13)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args(argv)

    runs = [run_world(args.dealers, args.skus, args.days, s, args.horizon) for s in args.seeds]
    summary = pooled(runs)
    print(
        f"{len(args.seeds)} world(s) of {args.dealers} dealers x {args.skus} SKUs x {args.days}"
        f" days, last {args.horizon} weeks held out; mean over worlds;"
        f" {np.mean([r['pairs_with_stockouts'] / r['pairs'] for r in runs]):.0%} of pairs and"
        f" {np.mean([r['censored_week_share'] for r in runs]):.0%} of history weeks censored",
        file=sys.stderr,
    )
    print(
        f"{'history':13s} | {'group':16s} | {'pairs':>5s} {'bias':>7s} {'WAPE':>6s} {'MASE':>6s}"
        f" | 95% interval covers: true demand, observed uncensored sales",
        file=sys.stderr,
    )
    for variant in VARIANTS:
        s = summary[variant]
        for group in GROUPS:
            pairs = np.mean([r["variants"][variant][group]["pairs"] for r in runs])
            cover = (
                f"{s['coverage_true_demand']:6.1%}  {s['coverage_uncensored_sales']:6.1%}"
                if group == "all"
                else ""
            )
            print(
                f"{variant:13s} | {group:16s} | {pairs:5.0f} {s[group]['bias']:+7.3f}"
                f" {s[group]['wape']:6.3f} {s[group]['mase']:6.3f} | {cover}",
                file=sys.stderr,
            )
    heavy = {variant: summary[variant]["heavily_censored"] for variant in VARIANTS}
    target = {
        "bias_gap_to_oracle": round(heavy["lower_bound"]["bias"] - heavy["oracle"]["bias"], 4),
        "wape_lower_bound": heavy["lower_bound"]["wape"],
        "wape_nan": heavy["nan"]["wape"],
    }
    target["bias_gap_bootstrap_sd"] = round(gap_spread(runs), 4)
    close_to_oracle = abs(target["bias_gap_to_oracle"]) <= 0.01
    target["met"] = bool(close_to_oracle and target["wape_lower_bound"] < target["wape_nan"])
    print(
        f"heavily censored, lower_bound: bias {target['bias_gap_to_oracle'] * 100:+.1f} points"
        f" from the oracle's (target within 1; sd {target['bias_gap_bootstrap_sd'] * 100:.1f}"
        f" by a paired bootstrap over pairs), WAPE {target['wape_lower_bound']:.3f} against"
        f" {target['wape_nan']:.3f} as missing (target lower): "
        + ("met" if target["met"] else "NOT met"),
        file=sys.stderr,
    )
    result = {
        "benchmark": "censoring",
        "target": target,
        "dealers": args.dealers,
        "skus": args.skus,
        "days": args.days,
        "horizon": args.horizon,
        "seeds": args.seeds,
        "summary": summary,
        "worlds": [{k: v for k, v in run.items() if k != "heavy_pair_sums"} for run in runs],
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
