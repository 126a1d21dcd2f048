"""Partial restatements: SKUs a restating sell-through delivery leaves out of a dealer-day.

dbt's restatement rule (int_sell_through_restated) lets the latest delivery that covers a
dealer-day win for all SKUs, so a SKU the earlier delivery had and the later one lacks is gone
from the marts for that day (its raw rows stay as history). This module finds those SKUs for
the deliveries one run loaded, so the run can say so (a `partial_restatement` alert and the
`restatements` list of run_summary.json) instead of letting them vanish unseen.

Inventory is not checked: its rule is per dealer x SKU x snapshot_date, so a SKU left out of a
restated snapshot keeps its earlier count.
"""

from __future__ import annotations

import duckdb

from warehouse.connection import table_exists

MAX_LISTED_SKUS = 50  # dropped SKUs named per line; `skus_dropped` always counts them all
RESTATEMENT_KEYS = [
    "file", "dealer_id", "date", "previous_file", "skus_previous", "skus_delivered",
    "skus_dropped", "dropped_skus",
]  # fmt: skip

# For each dealer-day a delivery of this run covers, the delivery it replaces is the latest
# earlier one covering the same dealer-day (of an earlier run, or earlier in this run); the
# SKUs that one had and this one lacks are dropped.
_REPLACED = """
with

-- No `distinct` needed: ingest quarantines duplicate keys (dealer_id, sku, date) within a
-- delivery, so a delivery's rows are its SKUs per dealer-day.
delivered as (
    select delivery_seq, source_file, dealer_id, cast(date as date) as day, sku
    from raw.sell_through
    where run_id = ?
),

covered as (
    select delivery_seq, source_file, dealer_id, day, count(*) as skus_delivered
    from delivered
    group by all
),

-- Deliveries per dealer-day, only for the dealer-days this run covers (a semi join: the raw
-- table is scanned once against the small set of covered days, not joined row by row).
deliveries as (
    select distinct earlier.delivery_seq, earlier.dealer_id, cast(earlier.date as date) as day
    from raw.sell_through as earlier
    semi join covered
        on earlier.dealer_id = covered.dealer_id and cast(earlier.date as date) = covered.day
),

replaced as (
    select covered.*, max(earlier.delivery_seq) as previous_seq
    from covered
    join deliveries as earlier
        on earlier.dealer_id = covered.dealer_id
        and earlier.day = covered.day
        and earlier.delivery_seq < covered.delivery_seq
    group by all
)
"""

_PARTIAL_RESTATEMENTS = (
    _REPLACED
    + """,

previous_skus as (
    select distinct
        replaced.delivery_seq, replaced.dealer_id, replaced.day, earlier.source_file, earlier.sku
    from replaced
    join raw.sell_through as earlier
        on earlier.dealer_id = replaced.dealer_id
        and cast(earlier.date as date) = replaced.day
        and earlier.delivery_seq = replaced.previous_seq
),

previous_counts as (
    select delivery_seq, dealer_id, day, any_value(source_file) as previous_file,
        count(*) as skus_previous
    from previous_skus
    group by all
),

dropped as (
    select delivery_seq, dealer_id, day, list(sku order by sku) as dropped_skus
    from previous_skus
    where not exists (
        select 1 from delivered
        where delivered.delivery_seq = previous_skus.delivery_seq
            and delivered.dealer_id = previous_skus.dealer_id
            and delivered.day = previous_skus.day
            and delivered.sku = previous_skus.sku
    )
    group by all
)

select
    replaced.source_file as file,
    replaced.dealer_id,
    replaced.day as date,
    previous_counts.previous_file,
    previous_counts.skus_previous,
    replaced.skus_delivered,
    len(dropped.dropped_skus) as skus_dropped,
    dropped.dropped_skus
from dropped
join replaced using (delivery_seq, dealer_id, day)
join previous_counts using (delivery_seq, dealer_id, day)
order by replaced.delivery_seq, replaced.dealer_id, replaced.day
"""
)


def partial_restatements(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    """One entry per dealer-day that a sell-through delivery of `run_id` restated without some
    SKUs of the delivery it replaces (keys `RESTATEMENT_KEYS`, JSON-ready).

    ``dropped_skus`` lists the first `MAX_LISTED_SKUS` of them in order; ``skus_dropped``
    counts them all.
    """
    if not table_exists(con, "raw", "sell_through"):
        return []
    # Most runs restate nothing: then the SKU comparison, which joins the raw rows, is skipped.
    if not con.execute(_REPLACED + "select count(*) from replaced", [run_id]).fetchone()[0]:
        return []
    rows = con.execute(_PARTIAL_RESTATEMENTS, [run_id]).fetchall()
    entries = []
    for row in rows:
        entry = dict(zip(RESTATEMENT_KEYS, row, strict=True))
        entry["date"] = entry["date"].isoformat()
        entry["dropped_skus"] = list(entry["dropped_skus"][:MAX_LISTED_SKUS])
        entries.append(entry)
    return entries
