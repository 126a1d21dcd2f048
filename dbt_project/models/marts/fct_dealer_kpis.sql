-- Dealer KPIs at as_of, over active dealer x SKU pairs:
--   days_of_inventory  = on_hand / (units sold in the last kpi_demand_window_days / that window)
--   slow_moving_share  = share of on-hand units in SKUs with no sale in that window
--   sell_through_rate  = units sold in the last kpi_sell_through_window_days
--                        / (those units + on_hand)
--   stockout_days      = dealer x SKU stockout days in the demand window (summed over SKUs)
-- A ratio whose denominator is 0 is null.
{%- set demand_days = var('kpi_demand_window_days') %}
{%- set sell_through_days = var('kpi_sell_through_window_days') %}

with

as_of as (

    select
        as_of_date,
        {{ add_days(1 - demand_days, 'as_of_date') }} as demand_window_start,
        {{ add_days(1 - sell_through_days, 'as_of_date') }} as sell_through_window_start
    from {{ ref('int_as_of_date') }}

),

dealers as (

    select dealer_id from {{ ref('dim_dealers') }}

),

positions as (

    select * from {{ ref('fct_inventory_position') }}

),

pair_demand as (

    select
        daily.dealer_id,
        daily.sku,
        sum(
            case when daily.date >= as_of.demand_window_start then daily.qty_sold else 0 end
        ) as qty_sold_demand_window,
        sum(
            case when daily.date >= as_of.sell_through_window_start then daily.qty_sold else 0 end
        ) as qty_sold_sell_through_window,
        cast(sum(case when daily.is_stockout then 1 else 0 end) as integer) as stockout_days
    from {{ ref('fct_daily_demand') }} as daily
    cross join as_of
    where daily.date >= as_of.demand_window_start
    group by daily.dealer_id, daily.sku

),

pairs as (

    select
        positions.dealer_id,
        positions.on_hand,
        coalesce(pair_demand.qty_sold_demand_window, 0) as qty_sold_demand_window,
        coalesce(pair_demand.qty_sold_sell_through_window, 0) as qty_sold_sell_through_window,
        coalesce(pair_demand.stockout_days, 0) as stockout_days,
        case
            when coalesce(pair_demand.qty_sold_demand_window, 0) = 0 then positions.on_hand
            else 0
        end as slow_moving_on_hand
    from positions
    left join pair_demand
        on
            positions.dealer_id = pair_demand.dealer_id
            and positions.sku = pair_demand.sku

),

dealer_totals as (

    select
        dealer_id,
        sum(on_hand) as on_hand,
        sum(slow_moving_on_hand) as slow_moving_on_hand,
        sum(qty_sold_demand_window) as qty_sold_demand_window,
        sum(qty_sold_sell_through_window) as qty_sold_sell_through_window,
        cast(sum(stockout_days) as integer) as stockout_days
    from pairs
    group by dealer_id

),

final as (

    select
        dealers.dealer_id,
        case
            when dealer_totals.qty_sold_demand_window > 0
                then dealer_totals.on_hand
                / (dealer_totals.qty_sold_demand_window / {{ demand_days }}.0)
        end as days_of_inventory,
        case
            when dealer_totals.on_hand > 0
                then dealer_totals.slow_moving_on_hand / dealer_totals.on_hand
        end as slow_moving_share,
        case
            when dealer_totals.qty_sold_sell_through_window + dealer_totals.on_hand > 0
                then dealer_totals.qty_sold_sell_through_window
                / (dealer_totals.qty_sold_sell_through_window + dealer_totals.on_hand)
        end as sell_through_rate,
        coalesce(dealer_totals.stockout_days, 0) as stockout_days,
        coalesce(dealer_totals.on_hand, 0) as on_hand
    from dealers
    left join dealer_totals
        on dealers.dealer_id = dealer_totals.dealer_id

)

select * from final
