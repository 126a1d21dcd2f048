with

source as (

    select * from {{ source('vmi', 'sell_through') }}

),

renamed as (

    select
        -- ids
        dealer_id,
        sku,
        file_sha256,

        -- strings
        nullif(trim(customer_region), '') as customer_region,
        source_file,
        run_id as load_run_id,

        -- numerics
        cast(qty_sold as double precision) as qty_sold,
        cast(unit_price as double precision) as unit_price,
        cast(line as integer) as source_line,
        cast(delivery_seq as bigint) as delivery_seq,

        -- dates
        cast(date as date) as sale_date,

        -- timestamps
        cast(loaded_at as timestamp) as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
