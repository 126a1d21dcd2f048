-- Master data: only the rows of the latest delivery_seq are current.
with

current_rows as (

    {{ latest_delivery_rows(source('vmi', 'skus')) }}

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
