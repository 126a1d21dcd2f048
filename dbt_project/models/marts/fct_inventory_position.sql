-- Inventory position per active dealer x SKU at as_of:
--     inventory_position = on_hand + in_transit + on_order - backorders
-- on_hand from the latest snapshot on or before as_of (0 when the pair was never counted);
-- backorders are not reported by dealers and are 0 until a feed carries them.
with

pairs as (

    select dealer_id, sku from {{ ref('dim_dealer_skus') }}

),

latest_snapshots as (

    select * from {{ ref('int_inventory_latest') }}

),

in_transit as (

    select * from {{ ref('int_in_transit_summed') }}

),

on_order as (

    select * from {{ ref('int_on_order_computed') }}

),

joined as (

    select
        pairs.dealer_id,
        pairs.sku,
        coalesce(latest_snapshots.on_hand, 0) as on_hand,
        latest_snapshots.last_snapshot_date,
        coalesce(in_transit.in_transit, 0) as in_transit,
        coalesce(on_order.on_order, 0) as on_order,
        cast(0 as double precision) as backorders
    from pairs
    left join latest_snapshots
        on
            pairs.dealer_id = latest_snapshots.dealer_id
            and pairs.sku = latest_snapshots.sku
    left join in_transit
        on
            pairs.dealer_id = in_transit.dealer_id
            and pairs.sku = in_transit.sku
    left join on_order
        on
            pairs.dealer_id = on_order.dealer_id
            and pairs.sku = on_order.sku

),

final as (

    select
        dealer_id,
        sku,
        on_hand,
        last_snapshot_date,
        in_transit,
        on_order,
        backorders,
        on_hand + in_transit + on_order - backorders as inventory_position
    from joined

)

select * from final
