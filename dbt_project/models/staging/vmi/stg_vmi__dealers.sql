-- Master data: each accepted delivery replaces the previous one, so only the rows of the latest
-- delivery_seq are current.
with

current_rows as (

    {{ latest_delivery_rows(source('vmi', 'dealers')) }}

),

renamed as (

    select
        -- ids
        dealer_id,

        -- strings
        dealer_name,
        nullif(trim(region), '') as region,
        nullif(trim(territory), '') as territory,
        nullif(trim(tier), '') as tier,

        -- numerics
        cast(lead_time_days as double precision) as lead_time_days,
        cast(lead_time_sd_days as double precision) as lead_time_sd_days,
        cast(review_period_days as integer) as review_period_days,
        cast(delivery_seq as bigint) as delivery_seq,

        -- timestamps
        cast(loaded_at as timestamp) as loaded_at

    from current_rows

),

final as (

    select * from renamed

)

select * from final
