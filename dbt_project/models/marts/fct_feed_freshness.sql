-- Per dealer and dealer feed (sell_through, inventory): the newest data date on or before as_of
-- and its age in days. A dealer that never reported a feed has nulls (treat as stale).
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

dealers as (

    select dealer_id from {{ ref('stg_vmi__dealers') }}

),

feed_dates as (

    select
        dealer_id,
        'sell_through' as feed,
        sale_date as report_date
    from {{ ref('int_sell_through_restated') }}
    union all
    select
        dealer_id,
        'inventory' as feed,
        snapshot_date as report_date
    from {{ ref('int_inventory_restated') }}

),

feeds as (

    select 'sell_through' as feed
    union all
    select 'inventory' as feed

),

last_reports as (

    select
        feed_dates.dealer_id,
        feed_dates.feed,
        max(feed_dates.report_date) as last_report_date
    from feed_dates
    cross join as_of
    where feed_dates.report_date <= as_of.as_of_date
    group by feed_dates.dealer_id, feed_dates.feed

),

final as (

    select
        dealers.dealer_id,
        feeds.feed,
        last_reports.last_report_date,
        {{ days_between('last_reports.last_report_date', 'as_of.as_of_date') }}
            as days_since_report
    from dealers
    cross join feeds
    cross join as_of
    left join last_reports
        on
            dealers.dealer_id = last_reports.dealer_id
            and feeds.feed = last_reports.feed

)

select * from final
