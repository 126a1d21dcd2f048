with

source as (

    select * from {{ source('pipeline', 'suggestions') }}

),

renamed as (

    select
        -- ids
        run_id,
        dealer_id,
        sku,

        -- strings
        demand_class,
        forecast_model,
        reason,

        -- numerics
        cast(on_hand as double precision) as on_hand,
        cast(in_transit as double precision) as in_transit,
        cast(on_order as double precision) as on_order,
        cast(inventory_position as double precision) as inventory_position,
        cast(avg_daily_demand as double precision) as avg_daily_demand,
        cast(lead_time_days as double precision) as lead_time_days,
        cast(lead_time_sd_days as double precision) as lead_time_sd_days,
        cast(review_period_days as double precision) as review_period_days,
        cast(protection_days as double precision) as protection_days,
        cast(demand_over_protection as double precision) as demand_over_protection,
        cast(sigma_over_protection as double precision) as sigma_over_protection,
        cast(service_level as double precision) as service_level,
        cast(z as double precision) as z,
        cast(safety_stock as double precision) as safety_stock,
        cast(order_up_to as double precision) as order_up_to,
        cast(raw_need as double precision) as raw_need,
        cast(pack_size as double precision) as pack_size,
        cast(moq as double precision) as moq,
        cast(suggested_qty as double precision) as suggested_qty,

        -- dates
        cast(as_of as date) as as_of_date

    from source

),

final as (

    select * from renamed

)

select * from final
