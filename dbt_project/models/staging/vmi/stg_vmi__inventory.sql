with

source as (

    select * from {{ source('vmi', 'inventory') }}

),

renamed as (

    select
        -- ids
        dealer_id,
        sku,
        file_sha256,

        -- strings
        source_file,
        run_id as load_run_id,

        -- numerics
        cast(on_hand as double precision) as on_hand,
        cast(line as integer) as source_line,
        cast(delivery_seq as bigint) as delivery_seq,

        -- dates
        cast(snapshot_date as date) as snapshot_date,

        -- timestamps
        cast(loaded_at as timestamp) as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
