-- Sales rows (restated, on or before as_of) that a planner should look at: sold to a customer
-- outside the dealer's territory, or priced at least price_deviation_min_pct percent away from
-- the SKU's list price (its median selling price). Alert thresholds above that floor are applied
-- by the replenishment alerts.
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

joined as (

    select
        sales.dealer_id,
        sales.sku,
        sales.file_sha256,
        sales.customer_region,
        dealers.territory,
        sales.qty_sold,
        sales.unit_price,
        skus.list_price,
        sales.source_line,
        sales.sale_date,
        coalesce(
            sales.customer_region is not null
            and dealers.territory is not null
            and sales.customer_region <> dealers.territory,
            false
        ) as is_cross_territory,
        case
            when skus.list_price > 0 and sales.unit_price is not null
                then 100.0 * (sales.unit_price - skus.list_price) / skus.list_price
        end as price_deviation_pct
    from sales
    left join dealers
        on sales.dealer_id = dealers.dealer_id
    left join skus
        on sales.sku = skus.sku

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
