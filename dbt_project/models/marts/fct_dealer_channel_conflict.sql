-- Cross-territory selling per dealer and complete calendar month (months ending on or before
-- as_of, from the dealer's first sale month): units sold (sales only, restated), units sold to a
-- customer in another territory (customer_region known and not the dealer's territory, as
-- fct_sales_exceptions flags them), their share, the trend (this month's share minus the mean of
-- the channel_window_months months before it) and the repeat-offender flag: at least
-- channel_repeat_months months with a share >= channel_min_monthly_share among the last
-- channel_window_months months (this one included). A month without sales has a null share and
-- does not count. fct_weekly_demand (the forecast history) moves those units to the territory's
-- owner (the channel_reattribute_leaked_sales rule).
{%- set window = var('channel_window_months') | int %}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

dealers as (

    select dealer_id, territory from {{ ref('dim_dealers') }}

),

sales as (

    select
        sales.dealer_id,
        sales.qty_sold,
        cast({{ dbt.date_trunc('month', 'sales.sale_date') }} as date) as month_start,
        coalesce(
            sales.customer_region is not null
            and dealers.territory is not null
            and sales.customer_region <> dealers.territory,
            false
        ) as is_cross_territory
    from {{ ref('int_sell_through_restated') }} as sales
    cross join as_of
    left join dealers
        on sales.dealer_id = dealers.dealer_id
    where sales.sale_date <= as_of.as_of_date and sales.qty_sold > 0

),

months as (

    select distinct cast({{ dbt.date_trunc('month', 'calendar_date') }} as date) as month_start
    from {{ ref('int_calendar_days') }}

),

complete_months as (

    select
        months.month_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'months.month_start')) }} as date)
            as month_end
    from months
    cross join as_of
    where
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'months.month_start')) }} as date)
        <= as_of.as_of_date

),

first_months as (

    select
        dealer_id,
        min(month_start) as first_month
    from sales
    group by dealer_id

),

monthly as (

    select
        dealer_id,
        month_start,
        sum(qty_sold) as units_sold,
        sum(case when is_cross_territory then qty_sold else 0 end) as units_cross_territory
    from sales
    group by dealer_id, month_start

),

grid as (

    select
        first_months.dealer_id,
        complete_months.month_start,
        complete_months.month_end,
        coalesce(monthly.units_sold, 0) as units_sold,
        coalesce(monthly.units_cross_territory, 0) as units_cross_territory
    from first_months
    inner join complete_months
        on complete_months.month_start >= first_months.first_month
    left join monthly
        on
            first_months.dealer_id = monthly.dealer_id
            and complete_months.month_start = monthly.month_start

),

shares as (

    select
        *,
        case
            when units_sold > 0 then cast(units_cross_territory as double) / units_sold
        end as cross_territory_share
    from grid

),

windowed as (

    select
        *,
        avg(cross_territory_share) over (
            partition by dealer_id
            order by month_start
            rows between {{ window }} preceding and 1 preceding
        ) as prior_mean_share,
        sum(
            case
                when cross_territory_share >= {{ var('channel_min_monthly_share') }} then 1
                else 0
            end
        ) over (
            partition by dealer_id
            order by month_start
            rows between {{ window - 1 }} preceding and current row
        ) as months_over_share,
        row_number() over (partition by dealer_id order by month_start desc) as months_back
    from shares

),

final as (

    select
        dealer_id,
        month_start,
        month_end,
        units_sold,
        units_cross_territory,
        cross_territory_share,
        cross_territory_share - prior_mean_share as share_trend,
        cast(months_over_share as integer) as months_over_share,
        months_over_share >= {{ var('channel_repeat_months') }} as is_repeat_offender,
        months_back = 1 as is_latest_month
    from windowed

)

select * from final
