-- Dealer scorecard per complete calendar quarter up to as_of (quarters that start on or after the
-- dealer's first sale row or inventory count). KPIs over the restated feeds:
--   sell_through_rate  = units sold in the quarter / (those units + on_hand at quarter end)
--   inventory_turnover = units sold in the quarter / average on_hand (per pair, the mean of its
--                        counts in the quarter; summed over pairs) -- quarterly, not annualised
--   stockout_share     = stock-out pair-days / pair-days in fct_daily_demand within the quarter
--   slow_mover_share   = stock value at quarter end (on_hand x unit_cost) in pairs with no sale in
--                        the scorecard_slow_mover_days up to quarter end / all stock value then
--   count_coverage     = Sundays of the quarter with at least one inventory count / Sundays
--   days_of_inventory  = average stock at cost / cost of goods sold per day, i.e.
--                        average_stock_value / (sales_value / quarter_days): average_stock_value
--                        = the inventory_turnover average (per pair the mean of its counts in
--                        the quarter) x unit_cost summed over pairs; sales_value = units sold x
--                        unit_cost; quarter_days = calendar days of the quarter. Null without
--                        sales or counts.
--   cross_territory_share = units sold to a customer in another territory / units sold, the
--                        quarter's sums of fct_dealer_channel_conflict's months
--   price_breach_share = units sold more than the price_deviation tolerance away from the price
--                        list in effect / units sold with a list price (int_dealer_quarter_
--                        price_breaches); null without a price list
--   feed_timeliness    = days of the quarter on which both feeds were within their freshness
--                        limit (on data dates) / days (int_dealer_quarter_feed_timeliness)
--   forecast_wape      = WAPE of the stored forecasts of earlier runs for the quarter's weeks
--                        (int_dealer_quarter_forecast_wape); null when none covers the quarter
-- on_hand at quarter end = per pair the latest count on or before quarter_end. A KPI whose
-- denominator is 0 is null and does not count towards the score.
-- Each KPI (scorecard_kpis()) has its benchmark, that of the dealer's tier (dim_dealers.tier,
-- int_dealer_tiers: policy.yml `tiers`, or var scorecard_benchmarks without tiers), and a pass
-- flag (>= for higher-is-better, <= for lower-is-better); a KPI is scored when it and its
-- benchmark are not null; score = passed / scored KPIs; below_benchmark = score < the tier's
-- min_score (false when no KPI could be scored).
-- sales_value = units sold in the quarter x unit_cost (tier proposal: rebate and credit).
{%- set kpis = [] %}
{%- for kpi in scorecard_kpis() %}{% do kpis.append((kpi['name'], kpi['direction'])) %}{% endfor %}
{%- set slow_days = var('scorecard_slow_mover_days') %}

with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

quarters as (

    select * from {{ ref('int_calendar_quarters') }}

),

dealers as (

    select dealer_id, tier from {{ ref('dim_dealers') }}

),

tiers as (

    select * from {{ ref('int_dealer_tiers') }}

),

skus as (

    select sku, unit_cost from {{ ref('stg_vmi__skus') }}

),

pair_daily_sales as (

    select
        sales.dealer_id,
        sales.sku,
        sales.sale_date,
        sum(case when sales.qty_sold > 0 then sales.qty_sold else 0 end) as qty_sold
    from {{ ref('int_sell_through_restated') }} as sales
    cross join as_of
    where sales.sale_date <= as_of.as_of_date
    group by sales.dealer_id, sales.sku, sales.sale_date

),

snapshots as (

    select
        inventory.dealer_id,
        inventory.sku,
        inventory.snapshot_date,
        inventory.on_hand
    from {{ ref('int_inventory_restated') }} as inventory
    cross join as_of
    where inventory.snapshot_date <= as_of.as_of_date

),

activity_dates as (

    select dealer_id, sale_date as activity_date from pair_daily_sales
    union all
    select dealer_id, snapshot_date as activity_date from snapshots

),

first_activity as (

    select
        dealer_id,
        min(activity_date) as first_activity_date
    from activity_dates
    group by dealer_id

),

dealer_quarters as (

    select
        dealers.dealer_id,
        dealers.tier,
        quarters.quarter_start,
        quarters.quarter_end,
        quarters.sundays
    from dealers
    inner join first_activity
        on dealers.dealer_id = first_activity.dealer_id
    inner join quarters
        on quarters.quarter_start >= first_activity.first_activity_date

),

quarter_sales as (

    select
        dealer_quarters.dealer_id,
        dealer_quarters.quarter_start,
        sum(pair_daily_sales.qty_sold) as qty_sold,
        sum(pair_daily_sales.qty_sold * skus.unit_cost) as sales_value
    from dealer_quarters
    inner join pair_daily_sales
        on
            dealer_quarters.dealer_id = pair_daily_sales.dealer_id
            and pair_daily_sales.sale_date between dealer_quarters.quarter_start
            and dealer_quarters.quarter_end
    left join skus
        on pair_daily_sales.sku = skus.sku
    group by dealer_quarters.dealer_id, dealer_quarters.quarter_start

),

-- The latest count on or before quarter end, per pair.
ranked_counts as (

    select
        dealer_quarters.dealer_id,
        dealer_quarters.quarter_start,
        dealer_quarters.quarter_end,
        snapshots.sku,
        snapshots.on_hand,
        row_number() over (
            partition by dealer_quarters.dealer_id, dealer_quarters.quarter_start, snapshots.sku
            order by snapshots.snapshot_date desc
        ) as count_rank
    from dealer_quarters
    inner join snapshots
        on
            dealer_quarters.dealer_id = snapshots.dealer_id
            and snapshots.snapshot_date <= dealer_quarters.quarter_end

),

-- Pairs that sold something in the slow-mover window ending at quarter end.
pairs_selling as (

    select distinct
        dealer_quarters.dealer_id,
        dealer_quarters.quarter_start,
        pair_daily_sales.sku
    from dealer_quarters
    inner join pair_daily_sales
        on
            dealer_quarters.dealer_id = pair_daily_sales.dealer_id
            and pair_daily_sales.qty_sold > 0
            and pair_daily_sales.sale_date
            between {{ add_days(1 - slow_days, 'dealer_quarters.quarter_end') }}
            and dealer_quarters.quarter_end

),

end_stock as (

    select
        ranked_counts.dealer_id,
        ranked_counts.quarter_start,
        sum(ranked_counts.on_hand) as on_hand_end,
        sum(ranked_counts.on_hand * skus.unit_cost) as stock_value_end,
        sum(
            case when pairs_selling.sku is null then ranked_counts.on_hand * skus.unit_cost end
        ) as slow_stock_value_end
    from ranked_counts
    left join skus
        on ranked_counts.sku = skus.sku
    left join pairs_selling
        on
            ranked_counts.dealer_id = pairs_selling.dealer_id
            and ranked_counts.quarter_start = pairs_selling.quarter_start
            and ranked_counts.sku = pairs_selling.sku
    where ranked_counts.count_rank = 1
    group by ranked_counts.dealer_id, ranked_counts.quarter_start

),

pair_average_stock as (

    select
        dealer_quarters.dealer_id,
        dealer_quarters.quarter_start,
        snapshots.sku,
        avg(snapshots.on_hand) as average_on_hand
    from dealer_quarters
    inner join snapshots
        on
            dealer_quarters.dealer_id = snapshots.dealer_id
            and snapshots.snapshot_date between dealer_quarters.quarter_start
            and dealer_quarters.quarter_end
    group by dealer_quarters.dealer_id, dealer_quarters.quarter_start, snapshots.sku

),

average_stock as (

    select
        pair_average_stock.dealer_id,
        pair_average_stock.quarter_start,
        sum(pair_average_stock.average_on_hand) as average_on_hand,
        sum(pair_average_stock.average_on_hand * skus.unit_cost) as average_stock_value
    from pair_average_stock
    left join skus
        on pair_average_stock.sku = skus.sku
    group by pair_average_stock.dealer_id, pair_average_stock.quarter_start

),

count_sundays as (

    select
        dealer_quarters.dealer_id,
        dealer_quarters.quarter_start,
        count(distinct snapshots.snapshot_date) as counted_sundays
    from dealer_quarters
    inner join snapshots
        on
            dealer_quarters.dealer_id = snapshots.dealer_id
            and snapshots.snapshot_date between dealer_quarters.quarter_start
            and dealer_quarters.quarter_end
            and {{ week_start(add_days(1, 'snapshots.snapshot_date')) }}
            = {{ add_days(1, 'snapshots.snapshot_date') }}
    group by dealer_quarters.dealer_id, dealer_quarters.quarter_start

),

stockouts as (

    select
        dealer_quarters.dealer_id,
        dealer_quarters.quarter_start,
        count(*) as pair_days,
        sum(case when daily.is_stockout then 1 else 0 end) as stockout_pair_days
    from dealer_quarters
    inner join {{ ref('fct_daily_demand') }} as daily
        on
            dealer_quarters.dealer_id = daily.dealer_id
            and daily.date between dealer_quarters.quarter_start and dealer_quarters.quarter_end
    group by dealer_quarters.dealer_id, dealer_quarters.quarter_start

),

cross_territory as (

    select
        dealer_quarters.dealer_id,
        dealer_quarters.quarter_start,
        sum(conflict.units_sold) as units_sold,
        sum(conflict.units_cross_territory) as units_cross_territory
    from dealer_quarters
    inner join {{ ref('fct_dealer_channel_conflict') }} as conflict
        on
            dealer_quarters.dealer_id = conflict.dealer_id
            and conflict.month_start between dealer_quarters.quarter_start
            and dealer_quarters.quarter_end
    group by dealer_quarters.dealer_id, dealer_quarters.quarter_start

),

measures as (

    select
        dealer_quarters.dealer_id,
        dealer_quarters.tier,
        dealer_quarters.quarter_start,
        dealer_quarters.quarter_end,
        coalesce(quarter_sales.qty_sold, 0) as qty_sold,
        coalesce(quarter_sales.sales_value, 0) as sales_value,
        coalesce(end_stock.on_hand_end, 0) as on_hand_end,
        average_stock.average_on_hand,
        average_stock.average_stock_value,
        {{ days_between('dealer_quarters.quarter_start', 'dealer_quarters.quarter_end') }} + 1
            as quarter_days,
        end_stock.stock_value_end,
        end_stock.slow_stock_value_end,
        cast(coalesce(stockouts.pair_days, 0) as integer) as pair_days,
        cast(coalesce(stockouts.stockout_pair_days, 0) as integer) as stockout_pair_days,
        cast(coalesce(count_sundays.counted_sundays, 0) as integer) as counted_sundays,
        dealer_quarters.sundays,
        coalesce(cross_territory.units_cross_territory, 0) as units_cross_territory,
        price_breaches.priced_units,
        price_breaches.breach_units,
        price_breaches.price_breach_share,
        timeliness.timely_days,
        timeliness.feed_timeliness,
        wape.forecast_pair_weeks,
        wape.forecast_wape
    from dealer_quarters
    left join quarter_sales
        on
            dealer_quarters.dealer_id = quarter_sales.dealer_id
            and dealer_quarters.quarter_start = quarter_sales.quarter_start
    left join end_stock
        on
            dealer_quarters.dealer_id = end_stock.dealer_id
            and dealer_quarters.quarter_start = end_stock.quarter_start
    left join average_stock
        on
            dealer_quarters.dealer_id = average_stock.dealer_id
            and dealer_quarters.quarter_start = average_stock.quarter_start
    left join count_sundays
        on
            dealer_quarters.dealer_id = count_sundays.dealer_id
            and dealer_quarters.quarter_start = count_sundays.quarter_start
    left join stockouts
        on
            dealer_quarters.dealer_id = stockouts.dealer_id
            and dealer_quarters.quarter_start = stockouts.quarter_start
    left join cross_territory
        on
            dealer_quarters.dealer_id = cross_territory.dealer_id
            and dealer_quarters.quarter_start = cross_territory.quarter_start
    left join {{ ref('int_dealer_quarter_price_breaches') }} as price_breaches
        on
            dealer_quarters.dealer_id = price_breaches.dealer_id
            and dealer_quarters.quarter_start = price_breaches.quarter_start
    left join {{ ref('int_dealer_quarter_feed_timeliness') }} as timeliness
        on
            dealer_quarters.dealer_id = timeliness.dealer_id
            and dealer_quarters.quarter_start = timeliness.quarter_start
    left join {{ ref('int_dealer_quarter_forecast_wape') }} as wape
        on
            dealer_quarters.dealer_id = wape.dealer_id
            and dealer_quarters.quarter_start = wape.quarter_start

),

kpis as (

    select
        *,
        case
            when qty_sold + on_hand_end > 0 then qty_sold / (qty_sold + on_hand_end)
        end as sell_through_rate,
        case when average_on_hand > 0 then qty_sold / average_on_hand end as inventory_turnover,
        case
            when pair_days > 0 then cast(stockout_pair_days as double) / pair_days
        end as stockout_share,
        case
            when stock_value_end > 0 then coalesce(slow_stock_value_end, 0) / stock_value_end
        end as slow_mover_share,
        case when sundays > 0 then cast(counted_sundays as double) / sundays end as count_coverage,
        case
            when sales_value > 0 and average_stock_value is not null
                then average_stock_value / (sales_value / quarter_days)
        end as days_of_inventory,
        case
            when qty_sold > 0 then units_cross_territory / qty_sold
        end as cross_territory_share
    from measures

),

benchmarked as (

    select
        kpis.*,
        {%- for kpi, direction in kpis %}
        tiers.{{ kpi }}_benchmark,
        kpis.{{ kpi }} {{ '>=' if direction == 'higher' else '<=' }} tiers.{{ kpi }}_benchmark
            as {{ kpi }}_passed,
        {%- endfor %}
        tiers.min_score
    from kpis
    inner join tiers
        on kpis.tier = tiers.tier

),

flagged as (

    select
        *,
        {% for kpi, _ in kpis -%}
        case when {{ kpi }}_passed is not null then 1 else 0 end
        {%- if not loop.last %} + {% endif %}
        {%- endfor %} as kpis_scored,
        {% for kpi, _ in kpis -%}
        case when {{ kpi }}_passed then 1 else 0 end
        {%- if not loop.last %} + {% endif %}
        {%- endfor %} as kpis_passed
    from benchmarked


),

final as (

    select
        dealer_id,
        tier,
        quarter_start,
        quarter_end,
        qty_sold,
        sales_value,
        on_hand_end,
        average_on_hand,
        stock_value_end,
        coalesce(slow_stock_value_end, 0) as slow_stock_value_end,
        pair_days,
        stockout_pair_days,
        counted_sundays,
        sundays,
        average_stock_value,
        quarter_days,
        units_cross_territory,
        priced_units,
        breach_units,
        timely_days,
        forecast_pair_weeks,
        {%- for kpi, _ in kpis %}
        {{ kpi }},
        {{ kpi }}_benchmark,
        {{ kpi }}_passed,
        {%- endfor %}
        cast(kpis_scored as integer) as kpis_scored,
        cast(kpis_passed as integer) as kpis_passed,
        case when kpis_scored > 0 then cast(kpis_passed as double) / kpis_scored end as score,
        min_score,
        coalesce(
            kpis_scored > 0 and cast(kpis_passed as double) / kpis_scored < min_score, false
        ) as below_benchmark
    from flagged

)

select * from final
