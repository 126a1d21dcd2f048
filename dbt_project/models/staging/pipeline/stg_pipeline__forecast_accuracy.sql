with

source as (

    select * from {{ source('pipeline', 'forecast_accuracy') }}

),

renamed as (

    select
        -- ids
        run_id,
        dealer_id,
        sku,

        -- strings
        model as forecast_model,
        demand_class,

        -- numerics
        cast(mase as double precision) as mase,
        cast(wape as double precision) as wape,
        cast(bias as double precision) as bias,
        cast(sigma as double precision) as sigma,
        cast(n_obs as integer) as n_obs,

        -- dates
        cast(as_of as date) as as_of_date

    from source

),

final as (

    select * from renamed

)

select * from final
