-- Daily demand per active dealer x SKU, zero-filled from the pair's first activity (first sale
-- row or snapshot) to as_of. Returns (negative qty_sold) are kept apart from demand.
--
-- is_stockout approximates days without stock from the weekly snapshots: a day is a stockout day
-- when the latest snapshot on or before it shows on_hand <= 0 and no sale and no receipt of the
-- pair has happened after that snapshot's day. Days before a zero snapshot are not flagged (the
-- stock-out moment between two snapshots is unknown); fct_weekly_demand censors those weeks.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

pairs as (

    select dealer_id, sku from {{ ref('dim_dealer_skus') }}

),

calendar as (

    select * from {{ ref('int_calendar_days') }}

),

sales as (

    select sales.*
    from {{ ref('int_sell_through_restated') }} as sales
    cross join as_of
    where sales.sale_date <= as_of.as_of_date

),

daily_sales as (

    select
        dealer_id,
        sku,
        sale_date,
        sum(case when qty_sold > 0 then qty_sold else 0 end) as qty_sold,
        sum(case when qty_sold < 0 then -qty_sold else 0 end) as qty_returned
    from sales
    group by dealer_id, sku, sale_date

),

snapshots as (

    select inventory.*
    from {{ ref('int_inventory_restated') }} as inventory
    cross join as_of
    where inventory.snapshot_date <= as_of.as_of_date

),

receipts as (

    select distinct
        shipments.dealer_id,
        shipments.sku,
        shipments.received_date
    from {{ ref('int_shipments_restated') }} as shipments
    cross join as_of
    where shipments.received_date <= as_of.as_of_date

),

activity_dates as (

    select dealer_id, sku, sale_date as activity_date from sales
    union all
    select dealer_id, sku, snapshot_date as activity_date from snapshots

),

first_activity as (

    select
        dealer_id,
        sku,
        min(activity_date) as first_activity_date
    from activity_dates
    group by dealer_id, sku

),

grid as (

    select
        pairs.dealer_id,
        pairs.sku,
        calendar.calendar_date
    from pairs
    inner join first_activity
        on
            pairs.dealer_id = first_activity.dealer_id
            and pairs.sku = first_activity.sku
    inner join calendar
        on calendar.calendar_date >= first_activity.first_activity_date

),

joined as (

    select
        grid.dealer_id,
        grid.sku,
        grid.calendar_date,
        coalesce(daily_sales.qty_sold, 0) as qty_sold,
        coalesce(daily_sales.qty_returned, 0) as qty_returned,
        snapshots.on_hand as snapshot_on_hand,
        receipts.received_date is not null as has_receipt
    from grid
    left join daily_sales
        on
            grid.dealer_id = daily_sales.dealer_id
            and grid.sku = daily_sales.sku
            and grid.calendar_date = daily_sales.sale_date
    left join snapshots
        on
            grid.dealer_id = snapshots.dealer_id
            and grid.sku = snapshots.sku
            and grid.calendar_date = snapshots.snapshot_date
    left join receipts
        on
            grid.dealer_id = receipts.dealer_id
            and grid.sku = receipts.sku
            and grid.calendar_date = receipts.received_date

),

-- Each snapshot opens a segment that lasts until the next one.
segmented as (

    select
        *,
        count(snapshot_on_hand) over (
            partition by dealer_id, sku
            order by calendar_date
            rows between unbounded preceding and current row
        ) as snapshot_segment
    from joined

),

segment_state as (

    select
        *,
        max(snapshot_on_hand) over (
            partition by dealer_id, sku, snapshot_segment
        ) as segment_on_hand,
        -- A sale or receipt after the snapshot's own day shows stock came back.
        max(
            case
                when snapshot_on_hand is null and (qty_sold > 0 or has_receipt) then 1
                else 0
            end
        ) over (
            partition by dealer_id, sku, snapshot_segment
            order by calendar_date
            rows between unbounded preceding and current row
        ) as is_restocked
    from segmented

),

final as (

    select
        dealer_id,
        sku,
        calendar_date as date,
        qty_sold,
        qty_returned,
        qty_sold - qty_returned as net_qty,
        coalesce(snapshot_segment > 0 and segment_on_hand <= 0 and is_restocked = 0, false)
            as is_stockout
    from segment_state

)

select * from final
