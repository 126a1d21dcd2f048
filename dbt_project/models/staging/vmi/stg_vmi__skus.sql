-- Master data: only the rows of the latest delivery_seq are current.
with

source as (

    select * from {{ source('vmi', 'skus') }}

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
        sku,

        -- strings
        description as sku_description,
        nullif(trim(category), '') as category,
        -- An empty class means "derive it" (dim_skus); the case is normalised here.
        nullif(upper(trim(abc_class)), '') as abc_class,

        -- numerics
        cast(unit_cost as double precision) as unit_cost,
        cast(pack_size as integer) as pack_size,
        cast(moq as integer) as moq,
        cast(delivery_seq as bigint) as delivery_seq,

        -- timestamps
        cast(loaded_at as timestamp) as loaded_at

    from current_rows

),

final as (

    select * from renamed

)

select * from final
