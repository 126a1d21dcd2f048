-- Master data: only the rows of the latest delivery_seq are current.
with

current_rows as (

    {{ latest_delivery_rows(source('vmi', 'dealer_skus')) }}

),

renamed as (

    select
        -- ids
        dealer_id,
        sku,

        -- numerics
        cast(service_level as double precision) as service_level,
        cast(min_qty as double precision) as min_qty,
        cast(max_qty as double precision) as max_qty,
        cast(delivery_seq as bigint) as delivery_seq,

        -- booleans
        cast(active as boolean) as is_active,

        -- timestamps
        cast(loaded_at as timestamp) as loaded_at

    from current_rows

),

final as (

    select * from renamed

)

select * from final
