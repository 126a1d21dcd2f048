-- The bullwhip effect over the trailing var('bullwhip_window_weeks') complete Monday weeks
-- ending on or before as_of: variance of weekly sell-in (units shipped to the dealer, by
-- ship_date, from the restated shipments) / variance of weekly sell-out (units sold, returns
-- excluded, from the restated sell-through). Both series are zero-filled over the same weeks, so
-- sample and population variance give the same ratio. One row per dealer x SKU with any sell-in
-- or sell-out in the window, plus one dealer total row (sku null, weekly sums over all SKUs).
-- variance_ratio is null when sell-out does not vary (variance 0) or the window has < 2 weeks.
{%- set window_weeks = var('bullwhip_window_weeks') %}

with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

calendar as (

    select * from {{ ref('int_calendar_days') }}

),

complete_weeks as (

    select calendar.week_start
    from calendar
    cross join as_of
    where {{ add_days(6, 'calendar.week_start') }} <= as_of.as_of_date
    group by calendar.week_start
    having min(calendar.calendar_date) = calendar.week_start

),

ranked_weeks as (

    select
        week_start,
        row_number() over (order by week_start desc) as weeks_back
    from complete_weeks

),

weeks as (

    select week_start from ranked_weeks where weeks_back <= {{ window_weeks }}

),

window_bounds as (

    select
        min(week_start) as window_start,
        {{ add_days(6, 'max(week_start)') }} as window_end,
        cast(count(*) as integer) as window_weeks
    from weeks

),

sell_out as (

    select
        sales.dealer_id,
        sales.sku,
        {{ week_start('sales.sale_date') }} as week_start,
        sum(case when sales.qty_sold > 0 then sales.qty_sold else 0 end) as qty
    from {{ ref('int_sell_through_restated') }} as sales
    cross join window_bounds
    where sales.sale_date between window_bounds.window_start and window_bounds.window_end
    group by sales.dealer_id, sales.sku, {{ week_start('sales.sale_date') }}

),

sell_in as (

    select
        shipments.dealer_id,
        shipments.sku,
        {{ week_start('shipments.ship_date') }} as week_start,
        sum(shipments.shipped_qty) as qty
    from {{ ref('int_shipments_restated') }} as shipments
    cross join window_bounds
    where shipments.ship_date between window_bounds.window_start and window_bounds.window_end
    group by shipments.dealer_id, shipments.sku, {{ week_start('shipments.ship_date') }}

),

pairs as (

    select dealer_id, sku from sell_out
    union
    select dealer_id, sku from sell_in

),

pair_weeks as (

    select
        pairs.dealer_id,
        pairs.sku,
        weeks.week_start,
        coalesce(sell_in.qty, 0) as sell_in_qty,
        coalesce(sell_out.qty, 0) as sell_out_qty
    from pairs
    cross join weeks
    left join sell_in
        on
            pairs.dealer_id = sell_in.dealer_id
            and pairs.sku = sell_in.sku
            and weeks.week_start = sell_in.week_start
    left join sell_out
        on
            pairs.dealer_id = sell_out.dealer_id
            and pairs.sku = sell_out.sku
            and weeks.week_start = sell_out.week_start

),

dealer_weeks as (

    select
        dealer_id,
        cast(null as varchar) as sku,
        week_start,
        sum(sell_in_qty) as sell_in_qty,
        sum(sell_out_qty) as sell_out_qty
    from pair_weeks
    group by dealer_id, week_start

),

series as (

    select *, false as is_dealer_total from pair_weeks
    union all
    select *, true as is_dealer_total from dealer_weeks

),

variances as (

    select
        dealer_id,
        sku,
        is_dealer_total,
        sum(sell_in_qty) as sell_in_qty,
        sum(sell_out_qty) as sell_out_qty,
        avg(sell_in_qty) as sell_in_weekly_mean,
        avg(sell_out_qty) as sell_out_weekly_mean,
        var_samp(sell_in_qty) as sell_in_variance,
        var_samp(sell_out_qty) as sell_out_variance
    from series
    group by dealer_id, sku, is_dealer_total

),

final as (

    select
        variances.dealer_id,
        variances.sku,
        variances.is_dealer_total,
        '{{ window_weeks }}w' as window_label,
        window_bounds.window_start,
        window_bounds.window_end,
        window_bounds.window_weeks,
        variances.sell_in_qty,
        variances.sell_out_qty,
        variances.sell_in_weekly_mean,
        variances.sell_out_weekly_mean,
        variances.sell_in_variance,
        variances.sell_out_variance,
        case
            when variances.sell_out_variance > 0
                then variances.sell_in_variance / variances.sell_out_variance
        end as variance_ratio
    from variances
    cross join window_bounds

)

select * from final
