-- Backtest accuracy per run, dealer, forecast model and demand class: means over the series.
with

accuracy as (

    select * from {{ ref('stg_pipeline__forecast_accuracy') }}

),

aggregated as (

    select
        run_id,
        dealer_id,
        forecast_model,
        demand_class,
        as_of_date,
        count(*) as series_count,
        avg(mase) as mean_mase,
        avg(wape) as mean_wape,
        avg(bias) as mean_bias,
        avg(sigma) as mean_sigma,
        avg(n_obs) as mean_observed_weeks
    from accuracy
    group by run_id, dealer_id, forecast_model, demand_class, as_of_date

),

final as (

    select
        run_id,
        dealer_id,
        forecast_model,
        demand_class,
        series_count,
        mean_mase,
        mean_wape,
        mean_bias,
        mean_sigma,
        mean_observed_weeks,
        as_of_date
    from aggregated

)

select * from final
