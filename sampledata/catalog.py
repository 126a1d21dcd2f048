"""Master data of the synthetic dealer network: dealers, SKUs and per-pair overrides.

The frames returned here hold the master columns of DESIGN.md ("Landing folder") plus a few
internal columns the rest of the world needs (true lead times, review weekday, feed format,
reporting lags, SKU velocity, list price). `landing.py` writes only the master columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEALER_COLUMNS = [
    "dealer_id",
    "dealer_name",
    "region",
    "territory",
    "lead_time_days",
    "lead_time_sd_days",
    "review_period_days",
    "tier",
]
SKU_COLUMNS = ["sku", "description", "category", "unit_cost", "pack_size", "moq", "abc_class"]
DEALER_SKU_COLUMNS = ["dealer_id", "sku", "service_level", "min_qty", "max_qty", "active"]

REGIONS = [("North", "NO"), ("South", "SO"), ("East", "EA"), ("West", "WE")]

_TOWNS = [
    "Ashford", "Brookfield", "Cedar Falls", "Dunmore", "Elmwood", "Fairview", "Glenhaven",
    "Hillcrest", "Ironbridge", "Juniper", "Kingsford", "Lakeside", "Millbrook", "Northgate",
    "Oakridge", "Pinewood", "Queensbury", "Riverton", "Stonebridge", "Thornbury", "Upton",
    "Valleyview", "Westfield", "Yarrow",
]  # fmt: skip
_TRADES = ["Equipment", "Farm Supply", "Power Equipment", "Tractor & Garden", "Outdoor Power"]

# Category: yearly demand peak (day of year), seasonal amplitude (share of the mean),
# typical unit cost, pack sizes dealers order in, and item names.
CATEGORIES: dict[str, dict] = {
    "filters": dict(
        peak_doy=100, amplitude=0.25, cost=9.0, packs=[1, 2, 4, 6, 12],
        names=["Oil filter", "Air filter", "Fuel filter", "Hydraulic filter"],
    ),
    "lubricants": dict(
        peak_doy=110, amplitude=0.30, cost=7.0, packs=[1, 6, 12, 24],
        names=["Engine oil 1L", "Bar & chain oil", "Gear oil", "Grease cartridge"],
    ),
    "blades": dict(
        peak_doy=135, amplitude=0.45, cost=22.0, packs=[1, 2, 10],
        names=["Mower blade", "Chainsaw chain", "Trimmer head", "Hedge blade"],
    ),
    "batteries": dict(
        peak_doy=15, amplitude=0.35, cost=85.0, packs=[1],
        names=["Starter battery", "Li-ion pack", "Garden tractor battery"],
    ),
    "tires": dict(
        peak_doy=95, amplitude=0.20, cost=110.0, packs=[1, 2, 4],
        names=["Turf tire", "Rear tractor tire", "Inner tube", "Caster wheel"],
    ),
    "garden": dict(
        peak_doy=145, amplitude=0.70, cost=35.0, packs=[1, 4, 6, 10],
        names=["Spark plug kit", "Seed spreader", "Hose reel", "Sprayer"],
    ),
    "snow": dict(
        peak_doy=20, amplitude=0.80, cost=55.0, packs=[1, 2],
        names=["Shear pin set", "Auger belt", "Scraper bar", "Skid shoe"],
    ),
    "accessories": dict(
        peak_doy=345, amplitude=0.30, cost=14.0, packs=[1, 10, 12, 24],
        names=["Work gloves", "Safety glasses", "Ear muffs", "Fuel can"],
    ),
}  # fmt: skip


def build_dealers(n_dealers: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw the dealer master plus internal columns.

    Internal columns: ``true_lead_time_days`` and ``true_lead_time_sd_days`` (what the
    manufacturer's shipments really take; the master value is the contract and is stale for a
    few dealers), ``review_weekday`` (0 = Monday), ``review_phase`` (which week of a 14-day
    cycle), ``feed_format`` (``csv`` or ``parquet``), ``sell_through_lag_days`` and
    ``inventory_lag_days`` (days the dealer's feeds end before the others), ``size``.
    """
    n_regions = min(len(REGIONS), max(1, n_dealers))
    region_idx = np.arange(n_dealers) % n_regions
    dealer_ids = [f"D{i + 1:03d}" for i in range(n_dealers)]
    per_region_counter = np.zeros(n_regions, dtype=int)
    territories = []
    for r in region_idx:
        per_region_counter[r] += 1
        territories.append(f"{REGIONS[r][1]}-{per_region_counter[r]:02d}")
    towns = rng.permutation(len(_TOWNS))
    names = [
        f"{_TOWNS[towns[i % len(_TOWNS)]]} {_TRADES[int(rng.integers(len(_TRADES)))]}"
        + (f" {i // len(_TOWNS) + 1}" if i >= len(_TOWNS) else "")
        for i in range(n_dealers)
    ]

    true_lead = np.round(rng.uniform(3.0, 12.0, n_dealers) * 2) / 2
    true_sd = np.round(true_lead * rng.uniform(0.1, 0.4, n_dealers), 1)
    # The contract lead time in the master is right for most dealers but understates it for
    # about one in five, which the pipeline should learn from the receipts.
    stale = rng.random(n_dealers) < 0.2
    master_lead = np.where(
        stale, np.maximum(1.0, true_lead - rng.integers(1, 4, n_dealers)), np.round(true_lead)
    )
    master_sd = np.where(stale, np.round(true_sd * 0.5, 1), true_sd)
    review = np.where(rng.random(n_dealers) < 0.25, 14, 7)

    parquet = rng.random(n_dealers) < 0.25
    if n_dealers >= 2:
        # Both formats must appear in every landing folder.
        if parquet.all():
            parquet[0] = False
        if not parquet.any():
            parquet[min(2, n_dealers - 1)] = True
    n_late = 0 if n_dealers < 2 else (1 if n_dealers < 8 else 2)
    late = np.zeros(n_dealers, dtype=bool)
    if n_late:
        late[rng.choice(n_dealers, n_late, replace=False)] = True

    return pd.DataFrame(
        {
            "dealer_id": dealer_ids,
            "dealer_name": names,
            "region": [REGIONS[r][0] for r in region_idx],
            "territory": territories,
            "lead_time_days": master_lead.astype(float),
            "lead_time_sd_days": master_sd.astype(float),
            "review_period_days": review.astype(int),
            "true_lead_time_days": true_lead,
            "true_lead_time_sd_days": np.maximum(true_sd, 0.3),
            "review_weekday": rng.integers(0, 5, n_dealers),
            "review_phase": rng.integers(0, 2, n_dealers),
            "feed_format": np.where(parquet, "parquet", "csv"),
            "sell_through_lag_days": np.where(late, rng.integers(4, 7, n_dealers), 0),
            "inventory_lag_days": np.where(late, rng.integers(9, 12, n_dealers), 0),
            "size": rng.lognormal(0.0, 0.35, n_dealers),
        }
    ).pipe(_with_tiers)


def _with_tiers(dealers: pd.DataFrame) -> pd.DataFrame:
    """`tier` from each dealer's size, with no random draw (so the rest of the world stays the
    same): the largest quarter gold, the smallest quarter bronze, the others silver, written
    out for every other one and left empty (the policy's default tier, silver) for the rest."""
    n = len(dealers)
    rank = dealers["size"].rank(method="first").to_numpy() - 1  # 0 = smallest
    middle = np.where(np.arange(n) % 2 == 0, "silver", "")
    tier = np.where(rank >= n - n // 4, "gold", np.where(rank < n // 4, "bronze", middle))
    return dealers.assign(tier=tier)


def build_skus(n_skus: int, rng: np.random.Generator, *, slow_share: float = 0.45) -> pd.DataFrame:
    """Draw the SKU master (without ``abc_class``) plus internal columns.

    Internal columns: ``velocity`` (``fast`` or ``slow``; slow SKUs sell a few units a month
    per dealer and give intermittent series), ``peak_doy`` and ``amplitude`` (yearly
    seasonality of the category) and ``list_price`` (usual selling price).
    """
    cats = list(CATEGORIES)
    category = np.array([cats[i % len(cats)] for i in rng.permutation(n_skus)])
    slow = rng.random(n_skus) < slow_share
    if n_skus >= 2:
        slow[0], slow[1] = False, True  # both kinds exist even in tiny worlds
    cost_base = np.array([CATEGORIES[c]["cost"] for c in category])
    # Slow movers tend to be the dearer items (big parts), fast movers the consumables.
    unit_cost = np.round(cost_base * rng.lognormal(np.where(slow, 0.4, -0.1), 0.45), 2)
    unit_cost = np.maximum(unit_cost, 0.5)
    pack = np.array(
        [
            1 if is_slow else int(rng.choice(CATEGORIES[c]["packs"]))
            for c, is_slow in zip(category, slow, strict=True)
        ]
    )
    moq = pack * np.where(slow, 1, rng.choice([1, 1, 1, 2, 3], n_skus))
    descriptions = []
    for i, c in enumerate(category):
        name = CATEGORIES[c]["names"][int(rng.integers(len(CATEGORIES[c]["names"])))]
        descriptions.append(f"{name} {c[:2].upper()}-{100 + i}")
    return pd.DataFrame(
        {
            "sku": [f"SKU{i + 1:05d}" for i in range(n_skus)],
            "description": descriptions,
            "category": category,
            "unit_cost": unit_cost,
            "pack_size": pack.astype(int),
            "moq": moq.astype(int),
            "abc_class": pd.Series([None] * n_skus, dtype=object),
            "velocity": np.where(slow, "slow", "fast"),
            "peak_doy": [CATEGORIES[c]["peak_doy"] for c in category],
            "amplitude": [CATEGORIES[c]["amplitude"] for c in category],
            "list_price": np.round(unit_cost * rng.uniform(1.25, 1.6, n_skus), 2),
        }
    )


def assign_abc(
    skus: pd.DataFrame,
    yearly_units: np.ndarray,
    rng: np.random.Generator,
    *,
    blank_share: float = 0.2,
) -> pd.DataFrame:
    """Set ``abc_class`` from yearly sales value (A: first 80 %, B: next 15 %, C: rest).

    About ``blank_share`` of the SKUs are left blank so that the pipeline must derive the class.
    """
    value = yearly_units * skus["unit_cost"].to_numpy()
    order = np.argsort(-value, kind="stable")
    cum_share = np.cumsum(value[order]) / max(value.sum(), 1e-9)
    ranked = np.where(cum_share <= 0.8, "A", np.where(cum_share <= 0.95, "B", "C"))
    ranked[0] = "A"  # the top seller is an A item even when it alone exceeds 80 %
    abc = np.empty(len(skus), dtype=object)
    abc[order] = ranked
    blank = rng.random(len(skus)) < blank_share
    if len(skus) >= 2 and not blank.any():
        blank[int(rng.integers(len(skus)))] = True
    abc[blank] = None
    out = skus.copy()
    out["abc_class"] = pd.Series(abc, index=out.index, dtype=object)
    return out


def build_dealer_skus(
    dealers: pd.DataFrame,
    skus: pd.DataFrame,
    carried: np.ndarray,
    ending: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """A handful of planner overrides on carried pairs.

    A few pairs get a service level, two get a min/max, and two pairs of SKUs that are being
    phased out (``ending``, per SKU) are switched off (``active = false``).
    """
    d_idx, s_idx = np.nonzero(carried)
    n = len(d_idx)
    if n == 0:
        return pd.DataFrame(columns=DEALER_SKU_COLUMNS)
    picks = rng.permutation(n)
    rows: dict[tuple[int, int], dict] = {}

    def row(k: int) -> dict:
        key = (int(d_idx[k]), int(s_idx[k]))
        return rows.setdefault(
            key, {"service_level": None, "min_qty": None, "max_qty": None, "active": True}
        )

    n_service = max(1, min(6, n // 40))
    for k in picks[:n_service]:
        row(k)["service_level"] = float(rng.choice([0.9, 0.95, 0.98, 0.99]))
    for k in picks[n_service : n_service + 2]:
        lo = int(rng.integers(1, 4))
        r = row(k)
        r["min_qty"], r["max_qty"] = float(lo), float(lo + int(rng.integers(4, 20)))
    ending_pairs = [k for k in picks if ending[s_idx[k]]]
    inactive = ending_pairs[:2] if ending_pairs else list(picks[-2:])
    for k in inactive:
        row(k)["active"] = False

    ordered = sorted(rows)
    return pd.DataFrame(
        {
            "dealer_id": [dealers["dealer_id"].iat[d] for d, _ in ordered],
            "sku": [skus["sku"].iat[s] for _, s in ordered],
            "service_level": [rows[k]["service_level"] for k in ordered],
            "min_qty": [rows[k]["min_qty"] for k in ordered],
            "max_qty": [rows[k]["max_qty"] for k in ordered],
            "active": [rows[k]["active"] for k in ordered],
        }
    ).astype({"service_level": float, "min_qty": float, "max_qty": float, "active": bool})
