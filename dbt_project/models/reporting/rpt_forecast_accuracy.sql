-- Backtest accuracy per published run, dealer, forecast model and demand class: means over the
-- series. A view: a rerun's rows appear when its publish commits, never before.
{{ config(materialized='view') }}

with

all_accuracy as (

    select * from {{ ref('stg_pipeline__forecast_accuracy') }}

),

published_runs as (

    {{ latest_published_runs(ref('stg_pipeline__runs')) }}

),

accuracy as (

    select all_accuracy.*
    from all_accuracy
    inner join published_runs
        on all_accuracy.run_id = published_runs.run_id

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
