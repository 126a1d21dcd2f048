-- Suggestions of the published run of each as-of date (the latest published one in
-- pipeline.runs), with the SKU and dealer attributes a planner filters on and the value of each
-- suggested line. A view over the pipeline tables, so a rerun's suggestions appear when its
-- publish commits, never before (a rerun that fails never shows). Dimension attributes are
-- today's (dims are not historised).
{{ config(materialized='view') }}

with

suggestions as (

    select * from {{ ref('stg_pipeline__suggestions') }}

),

published_runs as (

    {{ latest_published_runs(ref('stg_pipeline__runs')) }}

),

latest_suggestions as (

    select suggestions.*
    from suggestions
    inner join published_runs
        on
            suggestions.run_id = published_runs.run_id
            and suggestions.as_of_date = published_runs.as_of_date

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
