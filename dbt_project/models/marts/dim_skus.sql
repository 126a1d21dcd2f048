-- SKU master; abc_class derived from yearly sales value where the master leaves it empty;
-- list_price = median selling price of the SKU (sales on or before as_of).
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

skus as (

    select * from {{ ref('stg_vmi__skus') }}

),

classified as (

    select * from {{ ref('int_skus_abc_derived') }}

),

list_prices as (

    select
        sales.sku,
        -- Standard ordered-set aggregate (not available on BigQuery; see docs/dbt.md).
        percentile_cont(0.5) within group (order by sales.unit_price) as list_price
    from {{ ref('int_sell_through_restated') }} as sales
    cross join as_of
    where
        sales.unit_price is not null
        and sales.qty_sold > 0
        and sales.sale_date <= as_of.as_of_date
    group by sales.sku

),

final as (

    select
        skus.sku,
        skus.sku_description as description,
        skus.category,
        coalesce(skus.abc_class, classified.derived_abc_class) as abc_class,
        skus.unit_cost,
        skus.pack_size,
        skus.moq,
        list_prices.list_price,
        classified.yearly_sales_value,
        skus.abc_class is null as is_abc_class_derived
    from skus
    left join classified
        on skus.sku = classified.sku
    left join list_prices
        on skus.sku = list_prices.sku

)

select * from final
