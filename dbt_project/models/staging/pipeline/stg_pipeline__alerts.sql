with

source as (

    select * from {{ source('pipeline', 'alerts') }}

),

renamed as (

    select
        -- ids
        run_id,
        dealer_id,
        sku,

        -- strings
        alert_type,
        severity,
        message,

        -- numerics (passed through as written: some alert types carry no number)
        metric as metric_value,
        threshold as threshold_value,

        -- dates
        cast(as_of as date) as as_of_date

    from source

),

final as (

    select * from renamed

)

select * from final
