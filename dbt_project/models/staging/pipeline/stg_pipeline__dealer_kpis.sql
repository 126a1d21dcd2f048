with

source as (

    select * from {{ source('pipeline', 'dealer_kpis') }}

),

renamed as (

    select
        -- ids
        run_id,
        dealer_id,

        -- numerics
        cast(days_of_inventory as double precision) as days_of_inventory,
        cast(slow_moving_share as double precision) as slow_moving_share,
        cast(sell_through_rate as double precision) as sell_through_rate,
        cast(stockout_days as double precision) as stockout_days,

        -- dates
        cast(as_of as date) as as_of_date

    from source

),

final as (

    select * from renamed

)

select * from final
