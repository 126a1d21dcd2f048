-- Dealer KPIs per published run (the latest published run of each as-of date), for channel
-- managers comparing nights: every column of fct_dealer_kpis_by_run, where the history is kept.
-- A view, so a rerun's KPIs appear when its publish commits, never before; a KPI column added
-- to fct_dealer_kpis reaches it through `history.*` with no edit here.
{{ config(materialized='view') }}

with

history as (

    select * from {{ ref('fct_dealer_kpis_by_run') }}

),

published_runs as (

    {{ latest_published_runs(ref('stg_pipeline__runs')) }}

),

final as (

    select history.*
    from history
    inner join published_runs
        on history.run_id = published_runs.run_id

)

select * from final
