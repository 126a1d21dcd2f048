with

source as (

    select * from {{ source('pipeline', 'runs') }}

),

renamed as (

    select
        -- ids
        run_id,

        -- strings
        status as run_status,
        out_dir,
        failed_stage,
        error_class,
        error_message,

        -- dates
        cast(as_of as date) as as_of_date,

        -- timestamps
        cast(started_at as timestamp) as started_at,
        cast(finished_at as timestamp) as finished_at,
        cast(rolled_back_at as timestamp) as rolled_back_at

    from source

),

final as (

    select * from renamed

)

select * from final
