with

source as (

    select * from {{ source('vmi', 'approved_lines') }}

),

renamed as (

    select
        -- ids
        approval_id,
        run_id,
        dealer_id,
        sku,

        -- strings
        note,
        approved_by,

        -- numerics
        cast(suggested_qty as double precision) as suggested_qty,
        cast(approved_qty as double precision) as approved_qty,

        -- booleans
        coalesce(cast(is_held as boolean), false) as is_held,

        -- dates
        cast(as_of as date) as as_of_date,

        -- timestamps
        cast(approved_at as timestamp) as approved_at

    from source

),

final as (

    select * from renamed

)

select * from final
