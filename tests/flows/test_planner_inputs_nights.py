"""Planner inputs from the workbench store shape later nights until they expire.

Three nights of the real nightly flow on one generated landing: the first without inputs; then a
planner sets a forecast override and a snooze in `<out>/workbench.sqlite`; the second night
(both in force) prices the override and holds the snoozed line; the third night, after both
expiry dates, is back to the model and the plain policy.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def night(
    landing: Path, warehouse: Path, out: Path, as_of: date | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One nightly run: its suggestions and alerts."""
    from flows.nightly import nightly_replenishment

    folder = Path(
        nightly_replenishment(
            landing=str(landing), warehouse=str(warehouse), out=str(out), as_of=as_of
        )
    )
    return published(folder)


def pair_alerts(alerts: pd.DataFrame, line: pd.Series) -> set[str]:
    mine = (alerts["dealer_id"] == line["dealer_id"]) & (alerts["sku"] == line["sku"])
    return set(alerts.loc[mine, "alert_type"])


def packed(line: pd.Series) -> int:
    """The policy's quantity from the line's own need (pairs without a max_qty override)."""
    pack, need = int(line["pack_size"]), float(line["raw_need"])
    qty = math.ceil(need / pack - 1e-9) * pack
    return 0 if qty <= 0 else max(qty, math.ceil(int(line["moq"]) / pack - 1e-9) * pack)


def published(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A published night's suggestions and alerts."""
    keys = {"dealer_id": str, "sku": str}
    return pd.read_csv(folder / "suggestions.csv", dtype=keys), pd.read_csv(
        folder / "alerts.csv", dtype=keys
    )


def test_overrides_and_snoozes_shape_later_nights_until_they_expire(
    prefect_api, small_night, copy_night, tmp_path
):
    from warehouse.workbench import Store

    # The first night: a copy of the session's published night of the small world
    # (tests/conftest.py), run like any other night, before any planner input.
    first_night = copy_night(small_night, tmp_path / "night")
    landing, warehouse, out = small_night["landing"], first_night["warehouse"], first_night["out"]
    first, first_alerts = published(first_night["folder"])
    day1 = date.fromisoformat(str(first["as_of"].iloc[0]))
    assert not Store.beside(out).path.exists()  # a night never creates the store
    assert not first["reason"].str.contains("override|snoozed").any()

    # Two ordering pairs without a max_qty override: one to snooze, one to override.
    caps = pd.read_csv(landing / "master" / "dealer_skus.csv", dtype=str)
    caps.columns = [c.strip().lower() for c in caps.columns]
    capped = set(zip(caps["dealer_id"], caps["sku"].where(caps["max_qty"].notna()), strict=True))
    free = first[
        [pair not in capped for pair in zip(first["dealer_id"], first["sku"], strict=True)]
    ]
    ordering = free[free["suggested_qty"] > 0].sort_values(["dealer_id", "sku"])
    # Snooze one that is out of stock: its stockout alert must still show.
    out_of_stock = ordering[ordering["on_hand"] <= 0]
    assert len(out_of_stock) > 0, "the generated world has out-of-stock pairs that order"
    snoozed = out_of_stock.iloc[0]
    assert "stockout" in pair_alerts(first_alerts, snoozed)
    overridden = ordering[ordering["sku"] != snoozed["sku"]].iloc[-1]
    model_weekly = overridden["avg_daily_demand"] * 7
    units = float(math.ceil(model_weekly * 3 + 10))  # well away from the model

    store = Store.beside(out)
    day2, until = day1 + timedelta(days=2), day1 + timedelta(days=4)
    store.set_override(
        overridden["dealer_id"], overridden["sku"], units_per_week=units,
        valid_from=day1 + timedelta(days=1), valid_to=until, note="dealer promo", user="ann",
    )  # fmt: skip
    store.edit_line(
        day1, snoozed["dealer_id"], snoozed["sku"], version=0,
        changes={"snooze_until": until.isoformat()}, user="bob",
    )  # fmt: skip

    second, second_alerts = night(landing, warehouse, out, day2)
    second = second.set_index(["dealer_id", "sku"], drop=False)
    line = second.loc[(overridden["dealer_id"], overridden["sku"])]
    assert line["avg_daily_demand"] == pytest.approx(units / 7)
    assert line["demand_over_protection"] == pytest.approx(units / 7 * line["protection_days"])
    clause = line["reason"].rsplit("; ", 2)
    assert clause[-2].startswith(
        f"forecast override {units:g}/week by ann until {until} (model said "
    )
    assert clause[-1] == "note: dealer promo)."
    model_said = float(clause[-2].split("(model said ")[1].removesuffix("/week"))
    assert model_said == pytest.approx(model_weekly, rel=0.1, abs=0.6)  # the model, 2 days on
    held = second.loc[(snoozed["dealer_id"], snoozed["sku"])]
    assert held["suggested_qty"] == 0 and held["raw_need"] > 0
    assert held["reason"].startswith(
        f"No order: snoozed by bob until {until} (would suggest {packed(held)}); order-up-to "
    )
    assert "stockout" in pair_alerts(second_alerts, held)  # held, but still flagged
    touched = [(overridden["dealer_id"], overridden["sku"]), (snoozed["dealer_id"], snoozed["sku"])]
    assert not second.drop(touched)["reason"].str.contains("override|snoozed").any()

    third, _ = night(landing, warehouse, out, until + timedelta(days=1))
    third = third.set_index(["dealer_id", "sku"])
    assert not third["reason"].str.contains("override|snoozed").any()
    after = third.loc[(overridden["dealer_id"], overridden["sku"])]
    assert after["avg_daily_demand"] == pytest.approx(model_weekly / 7, abs=0.1)
    assert third.loc[(snoozed["dealer_id"], snoozed["sku"]), "suggested_qty"] > 0
