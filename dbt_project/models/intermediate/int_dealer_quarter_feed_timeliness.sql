-- Feed timeliness per dealer and complete quarter (scorecard feed_timeliness): the share of the
-- quarter's days on which both of the dealer's feeds were on time, judged as fct_feed_freshness
-- and the stale_feed rule judge them at as_of, on data dates: on day d a feed is on time when
-- its newest data date on or before d (restated sell-through sale_date, inventory
-- snapshot_date) is at most the dealer's limit days old (policy.yml freshness: var
-- feed_freshness_days per feed, feed_freshness_dealer_days per-dealer overrides). Every day of
-- the quarter is an expected report day. When a file arrived is not kept per data date
-- (raw.file_ledger.received_at is when the ingest read it, the same for a whole backfill), so a
-- feed's gaps count, not its delivery lag. Dealers that never reported a feed are not here.
{%- set defaults = var('feed_freshness_days') %}
{%- set overrides = var('feed_freshness_dealer_days') or {} %}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

quarters as (

    select quarter_start, quarter_end from {{ ref('int_calendar_quarters') }}

),

reports as (

    select distinct
        dealer_id,
        'sell_through' as feed,
        sale_date as report_date
    from {{ ref('int_sell_through_restated') }}
    union all
    select distinct
        dealer_id,
        'inventory' as feed,
        snapshot_date as report_date
    from {{ ref('int_inventory_restated') }}

),

limits as (

    {% for feed in ['sell_through', 'inventory'] -%}
    select
        '{{ feed }}' as feed,
        cast(null as varchar) as dealer_id,
        cast({{ defaults[feed] }} as double) as limit_days
    {%- for dealer, days in overrides.items() if days.get(feed) is not none %}
    union all
    select
        '{{ feed }}' as feed,
        {{ sql_literal(dealer) }} as dealer_id,
        cast({{ days[feed] }} as double) as limit_days
    {%- endfor %}
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

),

dealers as (

    select distinct dealer_id from reports

),

quarter_days as (

    select
        calendar.calendar_date,
        quarters.quarter_start
    from {{ ref('int_calendar_days') }} as calendar
    inner join quarters
        on calendar.calendar_date between quarters.quarter_start and quarters.quarter_end

),

-- Each dealer-feed's report dates and the quarter days in one date-ordered stream, so the
-- newest report on or before each day is a running max (reports before the spine count too).
stream as (

    select
        dealers.dealer_id,
        feeds.feed,
        quarter_days.calendar_date as stream_date,
        quarter_days.quarter_start,
        cast(null as date) as report_date
    from dealers
    cross join (select 'sell_through' as feed union all select 'inventory' as feed) as feeds
    cross join quarter_days
    union all
    select
        reports.dealer_id,
        reports.feed,
        reports.report_date as stream_date,
        cast(null as date) as quarter_start,
        reports.report_date
    from reports
    cross join as_of
    where reports.report_date <= as_of.as_of_date

),

aged as (

    select
        dealer_id,
        feed,
        stream_date,
        quarter_start,
        max(report_date) over (
            partition by dealer_id, feed
            order by stream_date, report_date nulls last
            rows between unbounded preceding and current row
        ) as last_report_date
    from stream

),

feed_days as (

    select
        aged.dealer_id,
        aged.quarter_start,
        aged.stream_date as calendar_date,
        coalesce(
            {{ days_between('aged.last_report_date', 'aged.stream_date') }}
            <= coalesce(dealer_limits.limit_days, default_limits.limit_days),
            false
        ) as is_on_time
    from aged
    inner join limits as default_limits
        on aged.feed = default_limits.feed and default_limits.dealer_id is null
    left join limits as dealer_limits
        on aged.feed = dealer_limits.feed and aged.dealer_id = dealer_limits.dealer_id
    where aged.quarter_start is not null

),

days as (

    select
        dealer_id,
        quarter_start,
        calendar_date,
        bool_and(is_on_time) as is_timely
    from feed_days
    group by dealer_id, quarter_start, calendar_date

),

final as (

    select
        dealer_id,
        quarter_start,
        cast(count(*) as integer) as quarter_days,
        cast(sum(case when is_timely then 1 else 0 end) as integer) as timely_days,
        cast(sum(case when is_timely then 1 else 0 end) as double) / count(*)
            as feed_timeliness
    from days
    group by dealer_id, quarter_start

)

select * from final
