-- Forecast WAPE per dealer and complete quarter (scorecard forecast_wape), from the forecasts
-- earlier nightly runs stored (pipeline.forecasts; the published run of each as_of,
-- pipeline.runs): for each dealer x SKU and week starting in the quarter, the forecast of the
-- latest run whose as_of is before that week's Monday and that forecast the week (weeks ending
-- on or before as_of); against the week's actual units (fct_weekly_demand qty_sold, 0 when it
-- has no row):
--   forecast_wape = sum |actual - yhat| / sum actual over those pair-weeks.
-- Null when no stored forecast covers a week of the quarter (a first run) or nothing was sold.
-- The pipeline tables exist from the warehouse's creation (warehouse.connect), empty until the
-- forecast stage of a first run writes them.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

runs as (

    select
        run_id,
        status as run_status,
        cast(as_of as date) as as_of_date,
        cast(started_at as timestamp) as started_at
    from {{ source('pipeline', 'runs') }}

),

published as (

    {{ latest_published_runs('runs') }}

),

quarters as (

    select quarter_start, quarter_end from {{ ref('int_calendar_quarters') }}

),

stored as (

    select
        forecasts.dealer_id,
        forecasts.sku,
        cast(forecasts.week_start as date) as week_start,
        cast(forecasts.yhat as double) as yhat,
        published.as_of_date,
        row_number() over (
            partition by forecasts.dealer_id, forecasts.sku, forecasts.week_start
            order by published.as_of_date desc
        ) as recency
    from {{ source('pipeline', 'forecasts') }} as forecasts
    inner join published
        on forecasts.run_id = published.run_id
    where published.as_of_date < cast(forecasts.week_start as date)

),

scored_weeks as (

    select
        stored.dealer_id,
        quarters.quarter_start,
        stored.yhat,
        coalesce(weekly.qty_sold, 0) as actual
    from stored
    cross join as_of
    inner join quarters
        on stored.week_start between quarters.quarter_start and quarters.quarter_end
    left join {{ ref('fct_weekly_demand') }} as weekly
        on
            stored.dealer_id = weekly.dealer_id
            and stored.sku = weekly.sku
            and stored.week_start = weekly.week_start
    where
        stored.recency = 1
        and {{ add_days(6, 'stored.week_start') }} <= as_of.as_of_date

),

final as (

    select
        dealer_id,
        quarter_start,
        cast(count(*) as integer) as forecast_pair_weeks,
        sum(actual) as actual_units,
        sum(abs(actual - yhat)) as absolute_error,
        case when sum(actual) > 0 then sum(abs(actual - yhat)) / sum(actual) end
            as forecast_wape
    from scored_weeks
    group by dealer_id, quarter_start

)

select * from final
