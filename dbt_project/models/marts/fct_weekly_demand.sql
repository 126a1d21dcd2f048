-- Weekly demand per active dealer x SKU: Monday-start weeks whose Sunday is on or before as_of,
-- zero-filled from the week of the pair's first activity. qty_sold counts sales only (returns
-- are not negative demand).
--
-- is_censored marks weeks whose demand was cut by missing stock, so the forecast treats them as
-- unobserved: a day of the week is a stockout day (fct_daily_demand) or an inventory snapshot
-- inside the week or on its boundaries (the Sunday before it, its own Sunday) shows on_hand <= 0.
-- Snapshots are weekly (Sundays) plus the feed's last day, so this is an approximation: a
-- stock-out that starts and ends between two positive snapshots is not seen.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

daily as (

    select * from {{ ref('fct_daily_demand') }}

),

calendar as (

    select * from {{ ref('int_calendar_days') }}

),

daily_with_week as (

    select
        daily.dealer_id,
        daily.sku,
        daily.qty_sold,
        daily.is_stockout,
        calendar.week_start
    from daily
    inner join calendar
        on daily.date = calendar.calendar_date

),

complete_weeks as (

    select
        daily_with_week.dealer_id,
        daily_with_week.sku,
        daily_with_week.week_start,
        sum(daily_with_week.qty_sold) as qty_sold,
        cast(sum(case when daily_with_week.is_stockout then 1 else 0 end) as integer)
            as stockout_days
    from daily_with_week
    cross join as_of
    where {{ add_days(6, 'daily_with_week.week_start') }} <= as_of.as_of_date
    group by daily_with_week.dealer_id, daily_with_week.sku, daily_with_week.week_start

),

zero_snapshots as (

    select inventory.*
    from {{ ref('int_inventory_restated') }} as inventory
    cross join as_of
    where inventory.on_hand <= 0 and inventory.snapshot_date <= as_of.as_of_date

),

-- A snapshot on day s touches the week holding s and, when s is a Sunday, the week after it:
-- those are the weeks starting at week_start(s) and week_start(s + 1).
zero_snapshot_weeks as (

    select
        dealer_id,
        sku,
        {{ week_start('snapshot_date') }} as week_start
    from zero_snapshots
    union
    select
        dealer_id,
        sku,
        {{ week_start(add_days(1, 'snapshot_date')) }} as week_start
    from zero_snapshots

),

final as (

    select
        complete_weeks.dealer_id,
        complete_weeks.sku,
        complete_weeks.week_start,
        complete_weeks.qty_sold,
        complete_weeks.stockout_days,
        (
            complete_weeks.stockout_days > 0
            or zero_snapshot_weeks.week_start is not null
        ) as is_censored
    from complete_weeks
    left join zero_snapshot_weeks
        on
            complete_weeks.dealer_id = zero_snapshot_weeks.dealer_id
            and complete_weeks.sku = zero_snapshot_weeks.sku
            and complete_weeks.week_start = zero_snapshot_weeks.week_start

)

select * from final
