with

source as (

    select * from {{ source('vmi', 'shipments') }}

),

renamed as (

    select
        -- ids
        shipment_id,
        dealer_id,
        sku,
        file_sha256,

        -- strings
        source_file,
        run_id as load_run_id,

        -- numerics
        cast(qty as double precision) as shipped_qty,
        cast(line as integer) as source_line,
        cast(delivery_seq as bigint) as delivery_seq,

        -- dates
        cast(ship_date as date) as ship_date,
        cast(expected_date as date) as expected_date,
        cast(received_date as date) as received_date,

        -- timestamps
        cast(loaded_at as timestamp) as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
