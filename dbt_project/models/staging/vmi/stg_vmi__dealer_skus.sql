-- Master data: only the rows of the latest delivery_seq are current.
with

source as (

    select * from {{ source('vmi', 'dealer_skus') }}

),

latest_delivery as (

    select max(delivery_seq) as delivery_seq from source

),

current_rows as (

    select source.*
    from source
    inner join latest_delivery
        on source.delivery_seq = latest_delivery.delivery_seq

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
