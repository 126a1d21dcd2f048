-- Price-list breaches per dealer and complete quarter (scorecard price_breach_share): units sold
-- (qty_sold > 0, restated, on or before as_of) with a reported unit_price and a price-list price
-- in effect on the sale date (stg_vmi__price_list, valid_from <= date < valid_to, joined as
-- fct_sales_exceptions does), and those of them priced more than var
-- price_breach_max_abs_deviation (policy.yml alerts.price_deviation.max_abs_deviation, the
-- price_deviation rule's tolerance) away: |unit_price / list_price - 1| > tolerance. A unit
-- share, not a row share. No price list (no priced unit in the quarter): share null.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

quarters as (

    select quarter_start, quarter_end from {{ ref('int_calendar_quarters') }}

),

price_list as (

    select sku, list_price, valid_from, valid_to from {{ ref('stg_vmi__price_list') }}

),

priced as (

    select
        sales.dealer_id,
        sales.sale_date,
        sales.qty_sold,
        abs(sales.unit_price / price_list.list_price - 1)
        > {{ var('price_breach_max_abs_deviation') }} as is_breach
    from {{ ref('int_sell_through_restated') }} as sales
    cross join as_of
    inner join price_list
        on
            sales.sku = price_list.sku
            and sales.sale_date >= price_list.valid_from
            and (price_list.valid_to is null or sales.sale_date < price_list.valid_to)
    where
        sales.sale_date <= as_of.as_of_date
        and sales.qty_sold > 0
        and sales.unit_price is not null
        and price_list.list_price > 0

),

final as (

    select
        priced.dealer_id,
        quarters.quarter_start,
        sum(priced.qty_sold) as priced_units,
        sum(case when priced.is_breach then priced.qty_sold else 0 end) as breach_units,
        sum(case when priced.is_breach then priced.qty_sold else 0 end) / sum(priced.qty_sold)
            as price_breach_share
    from priced
    inner join quarters
        on priced.sale_date between quarters.quarter_start and quarters.quarter_end
    group by priced.dealer_id, quarters.quarter_start

)

select * from final
