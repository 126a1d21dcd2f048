-- Suggestions of the latest run of each as-of date, with the SKU and dealer attributes a planner
-- filters on and the value of each suggested line. Dimension attributes are today's (dims are
-- not historised).
with

suggestions as (

    select * from {{ ref('stg_pipeline__suggestions') }}

),

runs as (

    select * from {{ ref('stg_pipeline__runs') }}

),

suggestion_runs as (

    select distinct
        run_id,
        as_of_date
    from suggestions

),

ranked_runs as (

    select
        suggestion_runs.run_id,
        suggestion_runs.as_of_date,
        row_number() over (
            partition by suggestion_runs.as_of_date
            order by runs.started_at desc nulls last, suggestion_runs.run_id desc
        ) as run_rank
    from suggestion_runs
    left join runs
        on suggestion_runs.run_id = runs.run_id

),

latest_suggestions as (

    select suggestions.*
    from suggestions
    inner join ranked_runs
        on
            suggestions.run_id = ranked_runs.run_id
            and suggestions.as_of_date = ranked_runs.as_of_date
    where ranked_runs.run_rank = 1

),

final as (

    select
        latest_suggestions.run_id,
        latest_suggestions.dealer_id,
        latest_suggestions.sku,
        dealers.dealer_name,
        dealers.region,
        skus.category,
        skus.abc_class,
        latest_suggestions.demand_class,
        latest_suggestions.forecast_model,
        latest_suggestions.reason,
        latest_suggestions.on_hand,
        latest_suggestions.in_transit,
        latest_suggestions.on_order,
        latest_suggestions.inventory_position,
        latest_suggestions.avg_daily_demand,
        latest_suggestions.safety_stock,
        latest_suggestions.order_up_to,
        latest_suggestions.suggested_qty,
        skus.unit_cost,
        latest_suggestions.suggested_qty * skus.unit_cost as suggested_value,
        latest_suggestions.suggested_qty > 0 as has_suggestion,
        latest_suggestions.as_of_date
    from latest_suggestions
    left join {{ ref('dim_skus') }} as skus
        on latest_suggestions.sku = skus.sku
    left join {{ ref('dim_dealers') }} as dealers
        on latest_suggestions.dealer_id = dealers.dealer_id

)

select * from final
