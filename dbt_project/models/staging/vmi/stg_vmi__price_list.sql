-- Master data: only the rows of the latest delivery_seq are current. Each row is a SKU's list
-- price from valid_from until the SKU's next valid_from (valid_to, exclusive; null = open).
with

current_rows as (

    {{ latest_delivery_rows(source('vmi', 'price_list')) }}

),

renamed as (

    select
        -- ids
        sku,

        -- numerics
        cast(list_price as double precision) as list_price,
        cast(delivery_seq as bigint) as delivery_seq,

        -- dates
        cast(valid_from as date) as valid_from,

        -- timestamps
        cast(loaded_at as timestamp) as loaded_at

    from current_rows

),

final as (

    select
        *,
        lead(valid_from) over (partition by sku order by valid_from) as valid_to
    from renamed

)

select * from final
