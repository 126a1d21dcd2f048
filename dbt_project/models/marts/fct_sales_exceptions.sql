-- Sales rows (restated, on or before as_of) that a planner should look at: sold to a customer
-- outside the dealer's territory, or priced at least price_deviation_min_pct percent away from
-- the SKU's list price: the price list's price in effect on the sale date when master/
-- price_list.csv prices the SKU then, else its median selling price (dim_skus); list_price_source
-- says which. Alert thresholds above that floor are applied by the replenishment alerts.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

sales as (

    select sales.*
    from {{ ref('int_sell_through_restated') }} as sales
    cross join as_of
    where sales.sale_date <= as_of.as_of_date

),

dealers as (

    select * from {{ ref('dim_dealers') }}

),

skus as (

    select * from {{ ref('dim_skus') }}

),

price_list as (

    select * from {{ ref('stg_vmi__price_list') }}

),

priced as (

    select
        sales.*,
        coalesce(price_list.list_price, skus.median_price) as list_price,
        case
            when price_list.list_price is not null then 'price_list'
            when skus.median_price is not null then 'median_price'
        end as list_price_source
    from sales
    left join skus
        on sales.sku = skus.sku
    left join price_list
        on
            sales.sku = price_list.sku
            and sales.sale_date >= price_list.valid_from
            and (price_list.valid_to is null or sales.sale_date < price_list.valid_to)

),

joined as (

    select
        sales.dealer_id,
        sales.sku,
        sales.file_sha256,
        sales.customer_region,
        dealers.territory,
        sales.qty_sold,
        sales.unit_price,
        sales.list_price,
        sales.list_price_source,
        sales.source_line,
        sales.sale_date,
        coalesce(
            sales.customer_region is not null
            and dealers.territory is not null
            and sales.customer_region <> dealers.territory,
            false
        ) as is_cross_territory,
        case
            when sales.list_price > 0 and sales.unit_price is not null
                then 100.0 * (sales.unit_price - sales.list_price) / sales.list_price
        end as price_deviation_pct
    from priced as sales
    left join dealers
        on sales.dealer_id = dealers.dealer_id

),

final as (

    select
        dealer_id,
        sku,
        sale_date as date,
        qty_sold,
        unit_price,
        customer_region,
        territory,
        list_price,
        list_price_source,
        is_cross_territory,
        price_deviation_pct,
        file_sha256,
        source_line
    from joined
    where
        is_cross_territory
        or abs(price_deviation_pct) >= {{ var('price_deviation_min_pct') }}

)

select * from final
