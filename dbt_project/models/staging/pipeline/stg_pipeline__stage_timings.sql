with

source as (

    select * from {{ source('pipeline', 'stage_timings') }}

),

renamed as (

    select
        -- ids
        run_id,

        -- strings
        stage as stage_name,

        -- numerics
        cast(seconds as double precision) as stage_seconds,
        cast(rows as bigint) as stage_rows

    from source

),

final as (

    select * from renamed

)

select * from final
