"""One night's plan: replenishment inputs + demand in, suggestions, alerts and transfers out.

Pure: every input is a DataFrame the caller loaded (flows/ reads them through warehouse/), so
the policy, the alert rules and the transfers can be run and tested without a warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from replenishment.actions import ACTION_OUTPUT_COLUMNS, propose_actions
from replenishment.alerts import build_alerts, stale_dealers
from replenishment.allocation import allocate
from replenishment.config import PolicyConfig
from replenishment.planner_inputs import suggestions_with_planner_inputs
from replenishment.rebalancing import TRANSFER_COLUMNS, suggest_transfers
from replenishment.tiers import TIER_PROPOSAL_OUTPUT_COLUMNS, tier_proposal_rows

CROSS_CHECK_DAYS = 28  # sales exceptions older than this were reported in earlier runs
TRANSFER_OUTPUT_COLUMNS = ["run_id", "as_of", *TRANSFER_COLUMNS]


@dataclass
class ReplenishmentPlan:
    suggestions: pd.DataFrame
    alerts: pd.DataFrame
    transfers: pd.DataFrame
    actions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=ACTION_OUTPUT_COLUMNS)
    )
    tier_proposals: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=TIER_PROPOSAL_OUTPUT_COLUMNS)
    )

    def side_tables(self) -> dict[str, pd.DataFrame]:
        """The run-folder tables beside suggestions and alerts: transfers, excess-stock actions
        and tier proposals (file stem -> frame)."""
        return {
            "transfers": self.transfers,
            "actions": self.actions,
            "tier_proposals": self.tier_proposals,
        }


def positions_with_staleness(
    inputs: pd.DataFrame, freshness: pd.DataFrame, config: PolicyConfig
) -> pd.DataFrame:
    """The replenishment inputs (marts.fct_replenishment_inputs) with each dealer's staleness."""
    positions = inputs.merge(stale_dealers(freshness, config), on="dealer_id", how="left")
    positions["is_stale"] = positions["is_stale"].fillna(False).astype(bool)
    positions["stale_days"] = positions["stale_days"].fillna(0).astype(int)
    return positions


def protection_days(positions: pd.DataFrame) -> pd.DataFrame:
    """Lead time + review period per pair: the interval an order must cover."""
    out = positions[["dealer_id", "sku"]].copy()
    out["protection_days"] = positions["lead_time_days"].astype(float) + positions[
        "review_period_days"
    ].astype(float)
    return out


def longest_protection_days(positions: pd.DataFrame, lead_time_sds: float) -> float | None:
    """max(lead time + `lead_time_sds` lead-time sd + review period) over the pairs."""
    if positions.empty:
        return None
    longest = (
        positions["lead_time_days"].astype(float)
        + lead_time_sds * positions["lead_time_sd_days"].astype(float).fillna(0.0)
        + positions["review_period_days"].astype(float)
    ).max()
    return None if pd.isna(longest) else float(longest)


def exceptions_since(as_of: date) -> date:
    """Sales exceptions after this date are checked tonight (older ones were reported before)."""
    return as_of - timedelta(days=CROSS_CHECK_DAYS)


def plan_replenishment(
    positions: pd.DataFrame,
    demand: pd.DataFrame,
    *,
    accuracy: pd.DataFrame,
    rejected_files: pd.DataFrame,
    freshness: pd.DataFrame,
    sales_exceptions: pd.DataFrame,
    last_sales: pd.DataFrame,
    dealers: pd.DataFrame,
    config: PolicyConfig,
    run_id: str,
    as_of: date,
    overrides: pd.DataFrame | None = None,
    snoozes: pd.DataFrame | None = None,
    restatements: pd.DataFrame | None = None,
    supply: pd.DataFrame | None = None,
    escalation: pd.DataFrame | None = None,
    tier_proposals: pd.DataFrame | None = None,
) -> ReplenishmentPlan:
    """Suggestions (policy), alerts (every registered rule) and transfers for one night.

    `sales_exceptions` holds the rows of marts.fct_sales_exceptions after `exceptions_since`.
    `overrides` and `snoozes` are the planner's persistent inputs (the workbench store's active
    rows, `replenishment.planner_inputs`): overrides replace a pair's demand before the policy,
    snoozes zero its suggested quantity after it; alerts and transfers see the final lines.
    `restatements` lists the dealer-days this run restated without some SKUs (alert
    `partial_restatement`); none by default. `supply` (marts.fct_sku_supply: `sku,
    available_qty`) caps the SKUs it lists: their lines gain `allocated_qty`
    (replenishment/allocation.py); None or empty leaves the suggestions as they are.
    `escalation` (marts.fct_dealer_escalation_quarterly) feeds the `dealer_escalation` alert;
    `tier_proposals` (marts.fct_dealer_tier_proposal) become tier_proposals.csv rows. The
    excess-stock actions (replenishment/actions.py) value remedies for the excess lines.
    """
    suggestions = suggestions_with_planner_inputs(
        positions, demand, config, overrides=overrides, snoozes=snoozes, run_id=run_id, as_of=as_of
    )
    share = config.allocation
    suggestions = allocate(
        suggestions, supply, dealers, tier_weights=share.tier_weights,
        default_tier=config.default_tier, risk_weight=share.risk_weight,
    )  # fmt: skip
    alerts = build_alerts(
        suggestions,
        freshness=freshness,
        sales_exceptions=sales_exceptions,
        rejected_files=rejected_files,
        accuracy=accuracy,
        last_sales=last_sales,
        restatements=restatements,
        escalation=escalation,
        config=config,
        run_id=run_id,
        as_of=as_of,
    )
    transfers = suggest_transfers(suggestions, dealers, config)
    transfers.insert(0, "run_id", run_id)
    transfers.insert(1, "as_of", as_of)
    actions = propose_actions(suggestions, alerts, positions, config, transfers=transfers)
    actions.insert(0, "run_id", run_id)
    actions.insert(1, "as_of", as_of)
    return ReplenishmentPlan(
        suggestions=suggestions, alerts=alerts, transfers=transfers, actions=actions,
        tier_proposals=tier_proposal_rows(tier_proposals, run_id, as_of),
    )  # fmt: skip
