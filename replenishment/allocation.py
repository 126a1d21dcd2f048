"""Allocation under shortage: share a capped SKU's available units over the dealers asking.

When the manufacturer's supply (master/supply.csv, the latest count per SKU: marts.fct_sku_supply)
is below the sum of a SKU's suggested quantities, each line of that SKU gets a weighted fair share
of its need (docs/replenishment.md "Allocation under shortage"):

- a line's weight is its dealer's tier weight (policy.yml ``allocation.tier_weights``; a tier not
  listed, or no tier, weighs 1) times its stock-out risk, ``1 + risk_weight x shortfall`` where
  ``shortfall = clip(1 - inventory_position / (avg_daily_demand x lead_time_days), 0, 1)``: a line
  whose position will not last its lead time is more likely to stock out before anything else
  arrives;
- every line gets the same multiple ``lambda x weight`` of its need, at most its need (water
  filling: ``sum(min(need, lambda x weight x need)) = available``), so at equal weight each line
  gets the same share of what it asked;
- quantities are whole packs, never above the line's suggested quantity, and add up to no more
  than the available units (floor of each share, then the leftover packs one by one to the lines
  with the largest remainders); a line left with some packs but below its MOQ gets nothing and
  its packs go to the other lines.

``suggested_qty`` stays the policy's quantity; ``allocated_qty`` is what can ship, and a cut line's
reason says so ("allocated 40 of 60: SKU short, 300 available for 450 asked"). Without a supply
frame (no file) the suggestions come back unchanged, without the column.

Pure: frames in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALLOCATED = "allocated_qty"
_EPS = 1e-9


def line_weights(
    suggestions: pd.DataFrame,
    dealers: pd.DataFrame | None,
    *,
    tier_weights: dict[str, float],
    default_tier: str | None,
    risk_weight: float,
) -> pd.Series:
    """Each line's allocation weight: its dealer's tier weight x its stock-out risk."""
    tiers = pd.Series(default_tier, index=suggestions.index, dtype=object)
    if dealers is not None and "tier" in dealers.columns and len(dealers):
        by_dealer = dealers.drop_duplicates("dealer_id").set_index("dealer_id")["tier"]
        named = suggestions["dealer_id"].map(by_dealer)
        named = named.where(named.notna() & (named.astype(str).str.strip() != ""), None)
        tiers = named.fillna(default_tier) if default_tier is not None else named
    tier_weight = tiers.map(lambda t: float(tier_weights.get(str(t), 1.0))).astype(float)
    position = pd.to_numeric(suggestions.get("inventory_position"), errors="coerce")
    rate = pd.to_numeric(suggestions.get("avg_daily_demand"), errors="coerce")
    lead = pd.to_numeric(suggestions.get("lead_time_days"), errors="coerce")
    lead_demand = (rate * lead).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(lead_demand > 0, position.to_numpy(dtype=float) / lead_demand, np.inf)
    shortfall = np.clip(1.0 - np.nan_to_num(cover, nan=np.inf), 0.0, 1.0)
    return pd.Series(tier_weight.to_numpy() * (1.0 + risk_weight * shortfall), suggestions.index)


def water_fill(need: np.ndarray, weight: np.ndarray, available: float) -> np.ndarray:
    """Continuous shares ``min(need, lam x weight x need)`` adding up to ``available``.

    ``available >= need.sum()`` gives every line its need. Weights must be positive.
    """
    need = np.asarray(need, dtype=float)
    weight = np.asarray(weight, dtype=float)
    if available >= need.sum() - _EPS:
        return need.copy()
    if available <= 0:
        return np.zeros_like(need)
    # Lines saturate (get their whole need) in order of falling weight, at lam = 1 / weight.
    order = np.argsort(-weight, kind="stable")
    saturated_need = 0.0
    lam = 0.0
    for k in range(len(order) + 1):
        rest = order[k:]
        open_mass = float((weight[rest] * need[rest]).sum())
        lam = (available - saturated_need) / open_mass if open_mass > 0 else np.inf
        if k == len(order) or lam * weight[order[k]] < 1.0:
            break
        saturated_need += need[order[k]]
    return np.minimum(need, lam * weight * need)


def allocate_packs(
    need: np.ndarray, weight: np.ndarray, available: float, pack: float, moq: np.ndarray
) -> np.ndarray:
    """Whole-pack quantities for one SKU: at most each need, summing to at most ``available``."""
    need = np.asarray(need, dtype=float)
    pack = float(pack) if pack and pack > 0 else 1.0
    cap = np.floor(need / pack + _EPS)  # whole packs within the need
    budget = np.floor(max(available, 0.0) / pack + _EPS)
    if cap.sum() <= budget:
        return cap * pack
    moq_packs = np.ceil(np.asarray(moq, dtype=float) / pack - _EPS)
    while True:
        target = water_fill(cap, weight, budget)
        packs = np.floor(target + _EPS)
        # The leftover packs go one each to the largest remainders (all below their need).
        left = int(budget - packs.sum())
        if left > 0:
            remainder = np.where(packs < cap, target - packs, -np.inf)
            packs[np.argsort(-remainder, kind="stable")[:left]] += 1
        packs = np.minimum(packs, cap)
        below_moq = (packs > 0) & (packs < moq_packs)
        if not below_moq.any():
            return packs * pack
        # A line below its MOQ cannot ship: it gets nothing and the others share its packs.
        cap = np.where(below_moq, 0.0, cap)


def allocate(
    suggestions: pd.DataFrame,
    supply: pd.DataFrame | None,
    dealers: pd.DataFrame | None = None,
    *,
    tier_weights: dict[str, float] | None = None,
    default_tier: str | None = None,
    risk_weight: float = 1.0,
) -> pd.DataFrame:
    """The suggestions with ``allocated_qty`` (and the cut in ``reason``) under ``supply``.

    Parameters
    ----------
    suggestions
        The night's lines: ``dealer_id, sku, suggested_qty, pack_size, moq, reason`` and, for
        the risk weight, ``inventory_position, avg_daily_demand, lead_time_days``.
    supply
        ``sku, available_qty`` (marts.fct_sku_supply). None or empty: no supply file, the
        suggestions are returned as they are (no ``allocated_qty`` column).
    dealers
        ``dealer_id`` and, when dealers have tiers, ``tier``.
    tier_weights, default_tier, risk_weight
        policy.yml ``allocation`` (and the tier a dealer without one has).
    """
    if supply is None or supply.empty:
        return suggestions
    out = suggestions.copy()
    suggested = pd.to_numeric(out["suggested_qty"], errors="coerce").fillna(0.0)
    allocated = suggested.to_numpy(dtype=float).copy()
    available = supply.drop_duplicates("sku", keep="last").set_index("sku")["available_qty"]
    asked = suggested.groupby(out["sku"]).sum()
    short = [sku for sku in asked.index if sku in available.index and asked[sku] > available[sku]]
    reasons = out["reason"].astype(object).to_numpy().copy() if "reason" in out else None
    if short:
        weights = line_weights(
            out,
            dealers,
            tier_weights=tier_weights or {},
            default_tier=default_tier,
            risk_weight=risk_weight,
        ).to_numpy()
        positions = np.arange(len(out))
        for sku in short:
            rows = positions[(out["sku"] == sku).to_numpy() & (suggested.to_numpy() > 0)]
            pack = pd.to_numeric(out["pack_size"].iloc[rows], errors="coerce").fillna(1.0).max()
            moq = pd.to_numeric(out["moq"].iloc[rows], errors="coerce").fillna(0.0).to_numpy()
            allocated[rows] = allocate_packs(
                suggested.to_numpy()[rows], weights[rows], float(available[sku]), pack, moq
            )
            if reasons is not None:
                note = f"SKU short, {_units(available[sku])} available for {_units(asked[sku])}"
                for i in rows[allocated[rows] < suggested.to_numpy()[rows]]:
                    cut = f"allocated {_units(allocated[i])} of {_units(suggested.iat[i])}: {note}"
                    reasons[i] = f"{reasons[i]}; {cut} asked" if reasons[i] else f"{cut} asked"
    out[ALLOCATED] = allocated
    if reasons is not None:
        out["reason"] = reasons
    return out


def _units(value: float) -> str:
    return f"{float(value):g}"
