-- SKU master; abc_class derived from yearly sales value where the master leaves it empty;
-- list_price = the price list's price in effect at as_of (optional master/price_list.csv), else
-- the median selling price of the SKU (sales on or before as_of); list_price_source says which.
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

price_list as (

    select prices.*
    from {{ ref('stg_vmi__price_list') }} as prices
    cross join as_of
    where
        prices.valid_from <= as_of.as_of_date
        and (prices.valid_to is null or prices.valid_to > as_of.as_of_date)

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
        coalesce(price_list.list_price, list_prices.list_price) as list_price,
        case
            when price_list.list_price is not null then 'price_list'
            when list_prices.list_price is not null then 'median_price'
        end as list_price_source,
        list_prices.list_price as median_price,
        classified.yearly_sales_value,
        skus.abc_class is null as is_abc_class_derived
    from skus
    left join classified
        on skus.sku = classified.sku
    left join list_prices
        on skus.sku = list_prices.sku
    left join price_list
        on skus.sku = price_list.sku

)

select * from final
