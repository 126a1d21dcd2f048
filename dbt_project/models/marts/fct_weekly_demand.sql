-- Weekly demand per active dealer x SKU: Monday-start weeks whose Sunday is on or before as_of,
-- zero-filled from the week of the pair's first activity. qty_sold counts sales only (returns
-- are not negative demand).
--
-- is_censored marks weeks whose demand was cut by missing stock, so the forecast treats them as
-- unobserved: a day of the week is a stockout day (fct_daily_demand) or an inventory snapshot
-- inside the week or on its boundaries (the Sunday before it, its own Sunday) shows on_hand <= 0.
-- Snapshots are weekly (Sundays) plus the feed's last day, so this is an approximation: a
-- stock-out that starts and ends between two positive snapshots is not seen.
--
-- Channel-conflict rule (var channel_reattribute_leaked_sales, policy.yml channel_conflict): the
-- forecast's demand of a dealer excludes what it sold to customers in another dealer's territory,
-- and that territory's owner's demand includes it. A sale moves when its customer_region is the
-- territory of exactly one dealer, the seller's own territory is known and different (as
-- fct_sales_exceptions flags it) and the owner's pair has a row that day in fct_daily_demand (it
-- carries the SKU); returns never move. fct_daily_demand, the KPIs and the scorecard keep what
-- each dealer sold off its own shelf.
{%- set reattribute = var('channel_reattribute_leaked_sales') in [true, 'true', 'True', 1] %}
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

dealers as (

    select dealer_id, territory from {{ ref('dim_dealers') }}

),

-- The one dealer whose territory a customer region is (none when two dealers share it).
territory_owners as (

    select
        territory,
        min(dealer_id) as owner_dealer_id
    from dealers
    where territory is not null
    group by territory
    having count(*) = 1

),

leaked_sales as (

    select
        sales.dealer_id as seller_dealer_id,
        territory_owners.owner_dealer_id,
        sales.sku,
        sales.sale_date,
        sales.qty_sold
    from {{ ref('int_sell_through_restated') }} as sales
    inner join dealers as sellers
        on sales.dealer_id = sellers.dealer_id
    inner join territory_owners
        on
            sales.customer_region = territory_owners.territory
            and sales.customer_region <> sellers.territory
    -- the owner carries the SKU that day (its pair is gridded); later than as_of never is
    inner join daily as owner_days
        on
            territory_owners.owner_dealer_id = owner_days.dealer_id
            and sales.sku = owner_days.sku
            and sales.sale_date = owner_days.date
    where sales.qty_sold > 0 and {{ 'true' if reattribute else 'false' }}

),

moved as (

    select
        seller_dealer_id as dealer_id,
        sku,
        sale_date as date,
        -qty_sold as qty_moved
    from leaked_sales
    union all
    select
        owner_dealer_id as dealer_id,
        sku,
        sale_date as date,
        qty_sold as qty_moved
    from leaked_sales

),

daily_moved as (

    select
        dealer_id,
        sku,
        date,
        sum(qty_moved) as qty_moved
    from moved
    group by dealer_id, sku, date

),

daily_with_week as (

    select
        daily.dealer_id,
        daily.sku,
        daily.qty_sold + coalesce(daily_moved.qty_moved, 0) as qty_sold,
        daily.is_stockout,
        calendar.week_start
    from daily
    inner join calendar
        on daily.date = calendar.calendar_date
    left join daily_moved
        on
            daily.dealer_id = daily_moved.dealer_id
            and daily.sku = daily_moved.sku
            and daily.date = daily_moved.date

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
