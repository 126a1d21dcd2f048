-- Alert counts per published run, alert type and severity. A view over the pipeline tables:
-- a rerun's alerts appear when its publish commits, never before.
{{ config(materialized='view') }}

with

alerts as (

    select * from {{ ref('stg_pipeline__alerts') }}

),

published_runs as (

    {{ latest_published_runs(ref('stg_pipeline__runs')) }}

),

published_alerts as (

    select alerts.*
    from alerts
    inner join published_runs
        on alerts.run_id = published_runs.run_id

),

final as (

    select
        run_id,
        alert_type,
        severity,
        count(*) as alert_count,
        count(distinct dealer_id) as dealer_count,
        as_of_date
    from published_alerts
    group by run_id, alert_type, severity, as_of_date

)

select * from final
