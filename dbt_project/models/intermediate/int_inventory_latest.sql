-- The latest snapshot on or before as_of per dealer x SKU.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

snapshots as (

    select inventory.*
    from {{ ref('int_inventory_restated') }} as inventory
    cross join as_of
    where inventory.snapshot_date <= as_of.as_of_date

),

ranked as (

    select
        *,
        row_number() over (
            partition by dealer_id, sku
            order by snapshot_date desc
        ) as recency_rank
    from snapshots

),

final as (

    select
        dealer_id,
        sku,
        on_hand,
        snapshot_date as last_snapshot_date
    from ranked
    where recency_rank = 1

)

select * from final
