-- Alert counts per run, alert type and severity.
with

alerts as (

    select * from {{ ref('stg_pipeline__alerts') }}

),

final as (

    select
        run_id,
        alert_type,
        severity,
        count(*) as alert_count,
        count(distinct dealer_id) as dealer_count,
        as_of_date
    from alerts
    group by run_id, alert_type, severity, as_of_date

)

select * from final
