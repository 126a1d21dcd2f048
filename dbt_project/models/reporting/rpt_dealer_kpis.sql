-- Dealer inventory KPIs run by run, for channel managers comparing nights: the published
-- runs only (a rerun of an as-of replaces the earlier run's rows), with dealer attributes.
with

kpis as (

    select * from {{ ref('stg_pipeline__dealer_kpis') }}

),

runs as (

    select * from {{ ref('stg_pipeline__runs') }}

),

dealers as (

    select * from {{ ref('dim_dealers') }}

),

final as (

    select
        kpis.run_id,
        kpis.dealer_id,
        dealers.dealer_name,
        dealers.region,
        kpis.days_of_inventory,
        kpis.slow_moving_share,
        kpis.sell_through_rate,
        kpis.stockout_days,
        kpis.as_of_date
    from kpis
    inner join runs
        on kpis.run_id = runs.run_id
    left join dealers
        on kpis.dealer_id = dealers.dealer_id

)

select * from final
