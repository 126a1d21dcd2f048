-- Units on the way per dealer x SKU at as_of: shipped on or before as_of and either not yet
-- received by as_of, or received after the pair's latest inventory snapshot (so the snapshot's
-- on_hand cannot include them yet).
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

shipments as (

    select * from {{ ref('int_shipments_restated') }}

),

latest_snapshots as (

    select * from {{ ref('int_inventory_latest') }}

),

open_shipments as (

    select
        shipments.dealer_id,
        shipments.sku,
        shipments.shipped_qty
    from shipments
    cross join as_of
    left join latest_snapshots
        on
            shipments.dealer_id = latest_snapshots.dealer_id
            and shipments.sku = latest_snapshots.sku
    where
        shipments.ship_date <= as_of.as_of_date
        and (
            shipments.received_date is null
            or shipments.received_date > as_of.as_of_date
            or shipments.received_date > latest_snapshots.last_snapshot_date
        )

),

final as (

    select
        dealer_id,
        sku,
        count(*) as open_shipments,
        sum(shipped_qty) as in_transit
    from open_shipments
    group by dealer_id, sku

)

select * from final
