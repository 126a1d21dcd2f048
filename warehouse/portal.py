"""Read-only queries of the dealer portal (`web/portal.py`): one dealer's rows, nothing else.

Every function takes the dealer's id as a bound parameter and returns only that dealer's rows;
none selects the internal ``note`` of ``raw.approved_lines``. They read tables dbt builds
(``intermediate``, ``marts``) and the approvals Python writes (``raw.approved_lines``):

* `open_shipments`: the shipments that make up ``in_transit`` in marts.fct_inventory_position,
  one row each (the rule of intermediate.int_in_transit_summed: shipped on or before as_of, and
  not received by then or received after the pair's latest stock count), with the expected
  arrival: the shipment's ``expected_date``, else ship date + the pair's lead time.
* `approved_orders`: approved lines not yet shipped. The pair's open quantity is its
  ``on_order`` (intermediate.int_on_order_computed, the figure replenishment counts) plus the
  approvals of the as-of date itself (which int_on_order_computed counts from the next night);
  it is assigned to the pair's newest approvals first (shipments cover the oldest first). The
  expected arrival is the approval's as-of + the pair's lead time.
* `dealer_row`: marts.dim_dealers of the dealer, every column (a ``tier`` column when a build
  has one).
"""

from __future__ import annotations

import duckdb
import pandas as pd

# Whole days of lead time added to a date (DuckDB: date + integer days).
_LEAD_DAYS = "cast(ceil(coalesce(lead.lead_time_days, 0)) as integer)"


def open_shipments(con: duckdb.DuckDBPyConnection, dealer_id: str) -> pd.DataFrame:
    """The dealer's shipments on the way at the warehouse's as-of date, soonest arrival first.

    Columns: ``shipment_id, sku, shipped_qty, ship_date, expected_date, received_date,
    expected_arrival, arrival_estimated`` (true when no expected date came with the shipment
    and ship date + lead time stands in for it).
    """
    return con.execute(
        f"""
        with as_of as (select as_of_date from intermediate.int_as_of_date),
        lead as (
            select sku, lead_time_days from marts.fct_replenishment_inputs where dealer_id = ?
        )
        select
            s.shipment_id, s.sku, s.shipped_qty, s.ship_date, s.expected_date, s.received_date,
            coalesce(s.expected_date, s.ship_date + {_LEAD_DAYS}) as expected_arrival,
            s.expected_date is null as arrival_estimated
        from intermediate.int_shipments_restated s
        cross join as_of
        left join intermediate.int_inventory_latest latest
            on s.dealer_id = latest.dealer_id and s.sku = latest.sku
        left join lead on s.sku = lead.sku
        where
            s.dealer_id = ?
            and s.ship_date <= as_of.as_of_date
            and (
                s.received_date is null
                or s.received_date > as_of.as_of_date
                or s.received_date > latest.last_snapshot_date
            )
        order by expected_arrival, s.sku, s.shipment_id
        """,
        [dealer_id, dealer_id],
    ).df()


def approved_orders(con: duckdb.DuckDBPyConnection, dealer_id: str) -> pd.DataFrame:
    """The dealer's approved lines still to ship, soonest expected arrival first.

    Columns: ``approval_id, approved_on`` (the approved run's as-of), ``sku, approved_qty,
    open_qty, approved_at, expected_arrival``. A re-approved run counts once (its latest
    approval per SKU); held and zero lines are left out.
    """
    return con.execute(
        f"""
        with as_of as (select as_of_date from intermediate.int_as_of_date),
        lead as (
            select sku, lead_time_days from marts.fct_replenishment_inputs where dealer_id = ?
        ),
        ranked as (
            select
                approval_id, as_of as approved_on, sku, approved_qty, approved_at,
                row_number() over (
                    partition by sku, as_of order by approved_at desc, approval_id desc
                ) as approval_rank
            from raw.approved_lines
            where
                dealer_id = ? and not coalesce(is_held, false) and approved_qty > 0
                and as_of <= (select as_of_date from as_of)
        ),
        latest as (select * from ranked where approval_rank = 1),
        open_pairs as (
            select sku, on_order from intermediate.int_on_order_computed where dealer_id = ?
        ),
        newest_first as (
            select
                latest.*,
                coalesce(open_pairs.on_order, 0) + sum(
                    case when latest.approved_on >= as_of.as_of_date then latest.approved_qty
                    else 0 end
                ) over (partition by latest.sku) as pair_open_qty,
                sum(latest.approved_qty) over (
                    partition by latest.sku order by latest.approved_on desc
                    rows between unbounded preceding and current row
                ) - latest.approved_qty as newer_qty
            from latest
            cross join as_of
            left join open_pairs on latest.sku = open_pairs.sku
        ),
        assigned as (
            select
                *,
                greatest(0, least(approved_qty, pair_open_qty - newer_qty)) as open_qty
            from newest_first
        )
        select
            assigned.approval_id, assigned.approved_on, assigned.sku, assigned.approved_qty,
            assigned.open_qty, assigned.approved_at,
            assigned.approved_on + {_LEAD_DAYS} as expected_arrival
        from assigned
        left join lead on assigned.sku = lead.sku
        where assigned.open_qty > 0
        order by expected_arrival, assigned.sku, assigned.approved_on
        """,
        [dealer_id, dealer_id, dealer_id],
    ).df()


def dealer_row(con: duckdb.DuckDBPyConnection, dealer_id: str) -> dict | None:
    """marts.dim_dealers of ``dealer_id`` as a dict (every column), or None."""
    frame = con.execute("select * from marts.dim_dealers where dealer_id = ?", [dealer_id]).df()
    return None if frame.empty else frame.iloc[0].to_dict()
