"""Transfers between dealers of one region: excess stock to a dealer about to run short.

A dealer has *excess* of a SKU when its inventory position is above its order-up-to level by
more than one pack; it can give at most that excess, and no more than it physically holds, so
it never drops below its own order-up-to. A dealer is *short* when its position is below the
demand over its lead time: a shipment ordered today would arrive too late. Within each region
and SKU the largest shortage is served first, from the dealer with the most excess.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from replenishment.config import PolicyConfig

TRANSFER_COLUMNS = ["from_dealer_id", "to_dealer_id", "sku", "qty", "reason"]


def suggest_transfers(
    suggestions: pd.DataFrame, dealers: pd.DataFrame, config: PolicyConfig
) -> pd.DataFrame:
    """Greedy within-region transfers of excess stock to dealers that will run short.

    Parameters
    ----------
    suggestions
        Output of `replenishment.policy.compute_suggestions`.
    dealers
        At least ``dealer_id, region``; dealers without a region never trade.
    config
        ``transfers.enabled`` switches this off; ``transfers.min_qty`` drops smaller moves.

    Returns
    -------
    pandas.DataFrame
        ``from_dealer_id, to_dealer_id, sku, qty, reason``; qty in whole units.

    Notes
    -----
    For each region x SKU: excess_i = min(IP_i - OUT_i, on_hand_i) for dealers with
    IP_i - OUT_i > pack_size; shortage_j = d_j * L_j - IP_j > 0. Receivers in order of
    decreasing shortage take ceil(shortage_j) from senders in order of decreasing remaining
    excess, each move limited by what the sender has left (floored to whole units).
    """
    if not config.transfers.enabled or suggestions.empty:
        return pd.DataFrame(columns=TRANSFER_COLUMNS)
    regions = dealers[["dealer_id", "region"]].drop_duplicates("dealer_id")
    frame = suggestions.merge(regions, on="dealer_id", how="inner")
    frame = frame[frame["region"].notna()]

    surplus = frame["inventory_position"] - frame["order_up_to"]
    frame = frame.assign(
        excess=np.floor(np.minimum(surplus, frame["on_hand"]).clip(lower=0)),
        lead_demand=frame["avg_daily_demand"] * frame["lead_time_days"],
    )
    frame["shortage"] = (frame["lead_demand"] - frame["inventory_position"]).clip(lower=0)
    is_sender = (surplus > frame["pack_size"]) & (frame["excess"] > 0)
    is_receiver = (frame["shortage"] > 0) & ~is_sender
    senders, receivers = frame[is_sender], frame[is_receiver]
    if senders.empty or receivers.empty:
        return pd.DataFrame(columns=TRANSFER_COLUMNS)

    moves = []
    keys = ["region", "sku"]
    for key, takers in receivers.groupby(keys, sort=True):
        givers = senders[(senders["region"] == key[0]) & (senders["sku"] == key[1])]
        if givers.empty:
            continue
        moves.extend(_match(key[0], key[1], givers, takers, config.transfers.min_qty))
    return pd.DataFrame(moves, columns=TRANSFER_COLUMNS)


def _match(
    region: str, sku: str, givers: pd.DataFrame, takers: pd.DataFrame, min_qty: float
) -> list[tuple]:
    left = dict(zip(givers["dealer_id"], givers["excess"], strict=True))
    giver_rows = givers.set_index("dealer_id")
    moves = []
    takers = takers.sort_values(["shortage", "dealer_id"], ascending=[False, True])
    for taker in takers.itertuples():
        wanted = math.ceil(taker.shortage - 1e-9)
        # Largest remaining excess first, so one sender covers the need when it can.
        for giver in sorted(left, key=lambda d: (-left[d], d)):
            if wanted <= 0:
                break
            qty = int(min(left[giver], wanted))
            if qty <= 0 or qty < min_qty:
                continue
            left[giver] -= qty
            wanted -= qty
            g = giver_rows.loc[giver]
            reason = (
                f"Move {qty} of {sku} from {giver} (position {_n(g.inventory_position)}, "
                f"order-up-to {_n(g.order_up_to)}, {_n(g.excess)} spare on hand) to "
                f"{taker.dealer_id} (position {_n(taker.inventory_position)} vs "
                f"{_n(taker.lead_demand)} demand over its {_n(taker.lead_time_days)}-day lead "
                f"time) within region {region}: it arrives before a new shipment could."
            )
            moves.append((giver, taker.dealer_id, sku, qty, reason))
    return moves


def _n(value: float) -> str:
    text = f"{float(value):.1f}"
    return text[:-2] if text.endswith(".0") else text
