-- ABC class from yearly sales value: units sold (all dealers) in the 365 days ending at as_of,
-- times unit_cost. SKUs ranked by value; cumulative share of the total <= abc_a_share -> A,
-- <= abc_b_share -> B, else C. The top SKU is always A (alone it may exceed the A share).
-- dim_skus uses this class only where the master leaves abc_class empty.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

skus as (

    select * from {{ ref('stg_vmi__skus') }}

),

yearly_units as (

    select
        sales.sku,
        sum(sales.qty_sold) as yearly_qty_sold
    from {{ ref('int_sell_through_restated') }} as sales
    cross join as_of
    where
        sales.qty_sold > 0
        and sales.sale_date <= as_of.as_of_date
        and sales.sale_date > {{ add_days(-365, 'as_of.as_of_date') }}
    group by sales.sku

),

valued as (

    select
        skus.sku,
        coalesce(yearly_units.yearly_qty_sold, 0) as yearly_qty_sold,
        coalesce(yearly_units.yearly_qty_sold, 0) * coalesce(skus.unit_cost, 0)
            as yearly_sales_value
    from skus
    left join yearly_units
        on skus.sku = yearly_units.sku

),

cumulated as (

    select
        *,
        row_number() over (order by yearly_sales_value desc, sku asc) as value_rank,
        sum(yearly_sales_value) over (
            order by yearly_sales_value desc, sku asc
            rows between unbounded preceding and current row
        ) as cumulative_sales_value,
        sum(yearly_sales_value) over () as total_sales_value
    from valued

),

shared as (

    select
        *,
        case
            when total_sales_value > 0 then cumulative_sales_value / total_sales_value
        end as cumulative_share
    from cumulated

),

final as (

    select
        sku,
        yearly_qty_sold,
        yearly_sales_value,
        value_rank,
        cumulative_share,
        case
            when cumulative_share is null then 'C'
            when value_rank = 1 then 'A'
            when cumulative_share <= cast({{ var('abc_a_share') }} as double precision) then 'A'
            when cumulative_share <= cast({{ var('abc_b_share') }} as double precision) then 'B'
            else 'C'
        end as derived_abc_class
    from shared

)

select * from final
