"""Dealer tiers from policy.yml as the dbt vars the dealer-management marts read.

The scorecard (fct_dealer_scorecard_quarterly), the escalation walk and the tier proposal
(fct_dealer_tier_proposal) read each tier's benchmarks, rebate steps, credit rule and
escalation thresholds from the dbt var ``dealer_tiers`` and the default tier from
``default_tier`` (int_dealer_tiers, int_dealer_rebate_steps). The nightly run passes them from
the policy file (`policy_dbt_vars`); dbt run on its own keeps the single-tier defaults of
dbt_project.yml (the ``scorecard_benchmarks`` var), so a project without a policy file behaves
as before tiers existed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from replenishment.config import PolicyConfig, load_policy_config


def tier_vars(config: PolicyConfig) -> dict[str, Any]:
    """``{"default_tier": name, "dealer_tiers": {name: {...}}}`` for dbt ``--vars``.

    Each tier: ``rank``, ``benchmarks`` (every scorecard KPI), ``min_score`` and the three
    escalation quarter counts, ``credit`` (the `CreditRule` fields; ``max_limit`` null when
    uncapped) and ``rebate_steps`` (a list of `RebateStep` fields).
    """
    tiers = {}
    for name, tier in config.tiers.items():
        escalation = tier.escalation.model_dump()
        tiers[name] = {
            "rank": tier.rank,
            "benchmarks": tier.benchmarks.model_dump(),
            "min_score": escalation.pop("min_score"),
            **escalation,
            "credit": tier.credit.model_dump(),
            "rebate_steps": [step.model_dump() for step in tier.rebate_steps],
        }
    return {"default_tier": config.default_tier, "dealer_tiers": tiers}


def policy_dbt_vars(policy_file: Path | str | None) -> dict[str, Any]:
    """`tier_vars` of a policy file (None: the shipped policy.yml), with its channel-conflict
    vars (`ChannelConflict.dbt_vars`) and the scorecard's (`scorecard_vars`); `ConfigError` if
    invalid."""
    config = load_policy_config(policy_file)
    return tier_vars(config) | config.channel_conflict.dbt_vars() | scorecard_vars(config)


def scorecard_vars(config: PolicyConfig) -> dict[str, Any]:
    """The scorecard's price-breach tolerance (alerts.price_deviation.max_abs_deviation) and
    feed freshness limits (`freshness`, per-dealer overrides) as dbt vars."""
    freshness = config.freshness
    return {
        "price_breach_max_abs_deviation": config.alerts.price_deviation.max_abs_deviation,
        "feed_freshness_days": {
            "sell_through": freshness.sell_through_days,
            "inventory": freshness.inventory_days,
        },
        "feed_freshness_dealer_days": {
            dealer: {
                feed: days
                for feed, days in (
                    ("sell_through", rule.sell_through_days),
                    ("inventory", rule.inventory_days),
                )
                if days is not None
            }
            for dealer, rule in freshness.dealers.items()
        },
    }


TIER_PROPOSAL_COLUMNS = [
    "dealer_id", "current_tier", "proposed_tier", "rebate_rate", "credit_limit", "reason",
]  # fmt: skip
# tier_proposals.csv: the contract columns, then what the proposal was judged on.
TIER_PROPOSAL_OUTPUT_COLUMNS = [
    "run_id", "as_of", *TIER_PROPOSAL_COLUMNS, "change", "quarter_start", "sales_value",
    "inventory_turnover", "slow_mover_share", "credit_breaches",
]  # fmt: skip


def tier_proposal_rows(proposals: pd.DataFrame | None, run_id: str, as_of: date) -> pd.DataFrame:
    """tier_proposals.csv rows from marts.fct_dealer_tier_proposal (empty when it is)."""
    columns = TIER_PROPOSAL_OUTPUT_COLUMNS
    if proposals is None or proposals.empty:
        return pd.DataFrame(columns=columns)
    out = proposals.reindex(columns=columns[2:]).copy()
    out.insert(0, "run_id", run_id)
    out.insert(1, "as_of", as_of)
    out["quarter_start"] = pd.to_datetime(out["quarter_start"]).dt.date
    return out.sort_values("dealer_id", kind="stable").reset_index(drop=True)
