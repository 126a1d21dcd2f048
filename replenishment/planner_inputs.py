"""Planner inputs that shape later nights: forecast overrides and snoozes.

The planner workbench keeps them (``warehouse/workbench.py``: ``Store.active_overrides`` and
``Store.active_snoozes``); the nightly replenish task reads them and hands them in as frames.
Pure: nothing here reads the store, so every rule is tested on plain frames.

- **Forecast override** (``OVERRIDE_COLUMNS``): on a night whose as_of lies in
  ``[valid_from, valid_to]`` (both days included) the policy uses ``units_per_week / 7`` as the
  pair's daily demand instead of the model's rate. The model's ``sigma_daily``, demand class and
  model name stay: the planner gives a level, not an error, so the backtest error of the pair
  still prices the safety stock. The reason ends with ``; forecast override 60/week by ann
  until 2026-12-20 (model said 22/week)``.
- **Snooze** (``SNOOZE_COLUMNS``): while ``as_of <= until`` the line is computed as usual but
  ``suggested_qty`` is 0 and the reason starts ``No order: snoozed by ann until 2026-12-20
  (would suggest 48); ...``. ``raw_need`` keeps the policy's need, and alerts and transfers are
  built from the line as usual.

Rows with an unreadable date or a negative or missing rate are ignored; when a pair appears
twice, the last row wins.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from replenishment.config import PolicyConfig
from replenishment.policy import _fmt, compute_suggestions

OVERRIDE_COLUMNS = [
    "dealer_id", "sku", "units_per_week", "valid_from", "valid_to", "note", "set_by", "set_at",
]  # fmt: skip
SNOOZE_COLUMNS = ["dealer_id", "sku", "until", "set_by", "set_at", "as_of"]
KEY = ["dealer_id", "sku"]
NOTE_COLUMNS = [*KEY, "note"]


def suggestions_with_planner_inputs(
    positions: pd.DataFrame,
    demand: pd.DataFrame,
    config: PolicyConfig,
    *,
    overrides: pd.DataFrame | None,
    snoozes: pd.DataFrame | None,
    run_id: str,
    as_of: date,
) -> pd.DataFrame:
    """`compute_suggestions` with the overrides applied to demand and the snoozes to the lines.

    ``overrides`` / ``snoozes``: frames (or lists of dicts) with `OVERRIDE_COLUMNS` /
    `SNOOZE_COLUMNS`, e.g. the workbench store's ``active_overrides`` / ``active_snoozes``;
    None or empty changes nothing. Rows not active on ``as_of`` are left out here.
    """
    adjusted, notes = override_demand(demand, overrides, as_of)
    suggestions = compute_suggestions(positions, adjusted, config, run_id=run_id, as_of=as_of)
    return snooze_suggestions(note_overrides(suggestions, notes), snoozes, as_of)


def active_overrides(overrides: pd.DataFrame | list | None, as_of: date) -> pd.DataFrame:
    """The overrides in force on ``as_of``: valid_from <= as_of <= valid_to, a rate >= 0."""
    frame = _frame(overrides, OVERRIDE_COLUMNS)
    day = pd.Timestamp(as_of)
    rate = pd.to_numeric(frame["units_per_week"], errors="coerce")
    live = (_dates(frame["valid_from"]) <= day) & (day <= _dates(frame["valid_to"]))
    live &= np.isfinite(rate) & (rate >= 0)
    out = frame[live].assign(units_per_week=rate[live].astype(float))
    out["valid_to"] = _dates(out["valid_to"]).dt.date.astype(str)
    return out.drop_duplicates(KEY, keep="last").reset_index(drop=True)


def active_snoozes(snoozes: pd.DataFrame | list | None, as_of: date) -> pd.DataFrame:
    """The snoozes in force on ``as_of``: as_of <= until."""
    frame = _frame(snoozes, SNOOZE_COLUMNS)
    out = frame[pd.Timestamp(as_of) <= _dates(frame["until"])].copy()
    out["until"] = _dates(out["until"]).dt.date.astype(str)
    return out.drop_duplicates(KEY, keep="last").reset_index(drop=True)


def override_demand(
    demand: pd.DataFrame, overrides: pd.DataFrame | list | None, as_of: date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demand frame with the active overrides' rates, and a reason clause per such pair.

    An overridden pair's ``daily_rate`` becomes ``units_per_week / 7`` (a number, also where
    the model gave a daily path); the other columns stay. A pair the model had no row for gets
    one with ``sigma_daily`` 0 (class and model stay empty: the policy reports them as
    ``no_history`` / ``none``). Returns ``(demand, notes)``, notes being `NOTE_COLUMNS`.
    """
    live = active_overrides(overrides, as_of)
    out = demand.reset_index(drop=True).copy()
    if live.empty:
        return out, pd.DataFrame(columns=NOTE_COLUMNS)
    pairs = list(zip(out["dealer_id"].astype(str), out["sku"].astype(str), strict=True))
    model_daily = dict(zip(pairs, out["daily_rate"].map(_mean_rate), strict=True))
    rates = {
        (str(d), str(s)): rate / 7.0
        for d, s, rate in zip(live["dealer_id"], live["sku"], live["units_per_week"], strict=True)
    }
    if any(pair in rates for pair in pairs):
        values = [rates.get(pair, v) for pair, v in zip(pairs, out["daily_rate"], strict=True)]
        out["daily_rate"] = pd.Series(values, dtype=object if _has_paths(out) else float)
    missing = [pair for pair in rates if pair not in model_daily]
    if missing:
        extra = pd.DataFrame(missing, columns=KEY).assign(
            daily_rate=[rates[p] for p in missing], sigma_daily=0.0
        )
        out = pd.concat([out, extra], ignore_index=True)
    notes = [
        _override_clause(row, model_daily.get((str(row.dealer_id), str(row.sku))))
        for row in live.itertuples(index=False)
    ]
    return out, pd.DataFrame({**{k: live[k].astype(str) for k in KEY}, "note": notes})


def note_overrides(suggestions: pd.DataFrame, notes: pd.DataFrame) -> pd.DataFrame:
    """Append each overridden pair's clause to its reason (before the closing full stop)."""
    if notes.empty or suggestions.empty:
        return suggestions
    clause = _lookup(suggestions, notes.set_index(KEY)["note"])
    out = suggestions.copy()
    hit = clause.notna().to_numpy()
    out.loc[hit, "reason"] = [
        _append(reason, text)
        for reason, text in zip(out.loc[hit, "reason"], clause[hit], strict=True)
    ]
    return out


def snooze_suggestions(
    suggestions: pd.DataFrame, snoozes: pd.DataFrame | list | None, as_of: date
) -> pd.DataFrame:
    """Snoozed pairs order nothing; their reason says by whom, until when and what it would be."""
    live = active_snoozes(snoozes, as_of)
    if live.empty or suggestions.empty:
        return suggestions
    who = live["set_by"].where(live["set_by"].notna() & (live["set_by"] != ""), "a planner")
    text = who.astype(str) + " until " + live["until"]
    by_pair = pd.Series(text.to_numpy(), index=pd.MultiIndex.from_frame(live[KEY].astype(str)))
    snoozed = _lookup(suggestions, by_pair)
    hit = snoozed.notna().to_numpy()
    out = suggestions.copy()
    out.loc[hit, "reason"] = [
        _snoozed(reason, int(qty), by)
        for reason, qty, by in zip(
            out.loc[hit, "reason"], out.loc[hit, "suggested_qty"], snoozed[hit], strict=True
        )
    ]
    out.loc[hit, "suggested_qty"] = 0
    return out


def _frame(rows: pd.DataFrame | list | None, columns: list[str]) -> pd.DataFrame:
    """Rows as a frame with every expected column (missing ones empty)."""
    frame = pd.DataFrame(rows if rows is not None else [])
    return frame.reindex(columns=list(dict.fromkeys([*columns, *frame.columns])))


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype(object), errors="coerce", format="mixed")


def _has_paths(demand: pd.DataFrame) -> bool:
    return bool(demand["daily_rate"].map(lambda v: isinstance(v, list | tuple | np.ndarray)).any())


def _mean_rate(value: object) -> float:
    """The model's mean daily rate: the number, or the mean of a daily path."""
    if isinstance(value, list | tuple | np.ndarray):
        path = np.asarray(value, dtype=float)
        return float(np.nanmean(path)) if path.size else 0.0
    return float(value) if pd.notna(value) else float("nan")


def _override_clause(row, model_daily: float | None) -> str:  # noqa: ANN001 - an itertuples row
    who = row.set_by if isinstance(row.set_by, str) and row.set_by else "a planner"
    said = (
        f"model said {_fmt(model_daily * 7)}/week"
        if model_daily is not None and np.isfinite(model_daily)
        else "no model forecast"
    )
    note = f"; note: {row.note.strip()}" if isinstance(row.note, str) and row.note.strip() else ""
    return (
        f"forecast override {_fmt(row.units_per_week)}/week by {who} until {row.valid_to} "
        f"({said}{note})"
    )


def _lookup(suggestions: pd.DataFrame, by_pair: pd.Series) -> pd.Series:
    """``by_pair`` (indexed by dealer_id, sku) for each suggestion row; NaN where absent."""
    index = pd.MultiIndex.from_arrays(
        [suggestions["dealer_id"].astype(str), suggestions["sku"].astype(str)]
    )
    return pd.Series(by_pair.reindex(index).to_numpy(), index=suggestions.index)


def _append(reason: str, clause: str) -> str:
    return f"{reason.removesuffix('.')}; {clause}."


def _snoozed(reason: str, qty: int, by: str) -> str:
    """Swap the reason's head ("Order 48 (...)" or "No order") for the snooze."""
    head, sep, body = reason.partition(": ")
    return f"No order: snoozed by {by} (would suggest {qty}); {body if sep else head}"
