"""Transfers: excess to short dealers of the same region, never more than the excess."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from replenishment.config import PolicyConfig, load_policy_config
from replenishment.rebalancing import suggest_transfers

CONFIG = load_policy_config()
DEALERS = pd.DataFrame(
    {"dealer_id": ["N1", "N2", "N3", "S1"], "region": ["North", "North", "North", "South"]}
)


def row(
    dealer_id: str,
    position: float,
    *,
    sku: str = "X",
    order_up_to: float = 30.0,
    on_hand: float | None = None,
    daily: float = 2.0,
    lead: float = 10.0,
    pack: int = 1,
) -> dict:
    return dict(
        dealer_id=dealer_id,
        sku=sku,
        inventory_position=position,
        on_hand=position if on_hand is None else on_hand,
        order_up_to=order_up_to,
        avg_daily_demand=daily,
        lead_time_days=lead,
        pack_size=pack,
    )


def test_excess_moves_to_the_short_dealer_of_the_same_region_only():
    suggestions = pd.DataFrame(
        [
            row("N1", 60),  # 30 over order-up-to: sender
            row("N2", 5),  # lead-time demand 20: short by 15
            row("S1", 0),  # short, but in the South
        ]
    )
    moves = suggest_transfers(suggestions, DEALERS, CONFIG)
    assert moves[["from_dealer_id", "to_dealer_id", "sku", "qty"]].values.tolist() == [
        ["N1", "N2", "X", 15]
    ]
    assert "within region North" in moves["reason"].iloc[0]


def test_largest_shortage_is_served_first_and_excess_is_never_exceeded():
    suggestions = pd.DataFrame(
        [
            row("N1", 40),  # excess 10
            row("N2", 8),  # short 12
            row("N3", 15),  # short 5
        ]
    )
    moves = suggest_transfers(suggestions, DEALERS, CONFIG)
    assert moves[["to_dealer_id", "qty"]].values.tolist() == [["N2", 10]]


def test_excess_counts_only_stock_on_the_shelf_and_more_than_one_pack():
    suggestions = pd.DataFrame(
        [
            row("N1", 60, on_hand=4),  # excess 30 but only 4 on hand
            row("N3", 35, pack=12),  # 5 over: less than a pack, keeps it
            row("N2", 0),
        ]
    )
    moves = suggest_transfers(suggestions, DEALERS, CONFIG)
    assert moves[["from_dealer_id", "qty"]].values.tolist() == [["N1", 4]]


def test_disabled_in_config():
    off = PolicyConfig.model_validate({"transfers": {"enabled": False}})
    suggestions = pd.DataFrame([row("N1", 60), row("N2", 0)])
    assert suggest_transfers(suggestions, DEALERS, off).empty
    assert list(suggest_transfers(suggestions, DEALERS, off).columns) == [
        "from_dealer_id",
        "to_dealer_id",
        "sku",
        "qty",
        "reason",
    ]


dealer_rows = st.fixed_dictionaries(
    {
        "dealer_id": st.sampled_from(["N1", "N2", "N3", "S1"]),
        "sku": st.sampled_from(["X", "Y"]),
        "inventory_position": st.floats(-5, 120),
        "on_hand": st.floats(0, 120),
        "order_up_to": st.floats(0, 60),
        "avg_daily_demand": st.floats(0, 5),
        "lead_time_days": st.floats(1, 20),
        "pack_size": st.integers(1, 12),
    }
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(dealer_rows, min_size=2, max_size=10, unique_by=lambda r: (r["dealer_id"], r["sku"]))
)
def test_transfers_stay_in_region_and_within_excess(rows):
    suggestions = pd.DataFrame(rows)
    moves = suggest_transfers(suggestions, DEALERS, CONFIG)
    region = DEALERS.set_index("dealer_id")["region"]
    pair = suggestions.set_index(["dealer_id", "sku"])
    for m in moves.itertuples():
        assert region[m.from_dealer_id] == region[m.to_dealer_id]
        assert m.from_dealer_id != m.to_dealer_id
        assert m.qty >= 1 and float(m.qty).is_integer()
        taker = pair.loc[(m.to_dealer_id, m.sku)]
        lead_demand = taker["avg_daily_demand"] * taker["lead_time_days"]
        assert taker["inventory_position"] < lead_demand
    sent = moves.groupby(["from_dealer_id", "sku"])["qty"].sum()
    for (dealer, sku), qty in sent.items():
        giver = pair.loc[(dealer, sku)]
        excess = giver["inventory_position"] - giver["order_up_to"]
        assert excess > giver["pack_size"]
        assert qty <= min(excess, giver["on_hand"]) + 1e-9  # never below its order-up-to
    got = moves.groupby(["to_dealer_id", "sku"])["qty"].sum()
    for (dealer, sku), qty in got.items():
        taker = pair.loc[(dealer, sku)]
        short = taker["avg_daily_demand"] * taker["lead_time_days"] - taker["inventory_position"]
        assert qty <= math.ceil(short - 1e-9)  # no more than it needs
