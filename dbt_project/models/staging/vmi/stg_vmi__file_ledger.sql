with

source as (

    select * from {{ source('vmi', 'file_ledger') }}

),

renamed as (

    select
        -- ids
        file_sha256,
        run_id as load_run_id,

        -- strings
        source_file,
        feed,
        status as file_status,
        reason,

        -- numerics
        cast(size_bytes as bigint) as size_bytes,
        cast(rows_read as integer) as rows_read,
        cast(rows_accepted as integer) as rows_accepted,
        cast(rows_quarantined as integer) as rows_quarantined,
        cast(delivery_seq as bigint) as delivery_seq,

        -- timestamps
        cast(received_at as timestamp) as received_at

    from source

),

final as (

    select * from renamed

)

select * from final
