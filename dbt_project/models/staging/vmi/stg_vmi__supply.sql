-- Master data: only the rows of the latest delivery_seq are current (a row per SKU and count
-- date); fct_sku_supply keeps the latest count on or before the run's as-of per SKU.
with

current_rows as (

    {{ latest_delivery_rows(source('vmi', 'supply')) }}

),

renamed as (

    select
        -- ids
        sku,

        -- numerics
        cast(available_qty as double precision) as available_qty,
        cast(delivery_seq as bigint) as delivery_seq,

        -- dates
        cast(as_of as date) as supply_as_of,

        -- timestamps
        cast(loaded_at as timestamp) as loaded_at

    from current_rows

),

final as (

    select * from renamed

)

select * from final
