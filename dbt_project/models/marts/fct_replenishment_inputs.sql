-- The replenishment policy's input: one row per active dealer x SKU at as_of, its inventory
-- position with the dealer, SKU and pair attributes the policy and the planner's report need.
-- Lead times are the pair's (dim_dealer_skus *_used: its own receipts blended with the
-- dealer's); the review period is the dealer's; pack size, MOQ and unit cost the SKU's; service
-- level and min/max the pair's overrides (null = policy default).
with

positions as (

    select * from {{ ref('fct_inventory_position') }}

),

dealers as (

    select * from {{ ref('dim_dealers') }}

),

skus as (

    select * from {{ ref('dim_skus') }}

),

dealer_skus as (

    select * from {{ ref('dim_dealer_skus') }}
    where is_active

),

final as (

    select
        -- ids
        positions.dealer_id,
        positions.sku,

        -- strings
        dealers.dealer_name,
        dealers.region,
        skus.category,
        skus.description,
        skus.abc_class,

        -- stock position
        positions.on_hand,
        positions.in_transit,
        positions.on_order,
        positions.backorders,
        positions.inventory_position,

        -- lead time and review period
        dealer_skus.lead_time_days_used as lead_time_days,
        dealer_skus.lead_time_sd_days_used as lead_time_sd_days,
        dealers.review_period_days,

        -- ordering constraints and cost
        skus.pack_size,
        skus.moq,
        skus.unit_cost,

        -- per-pair overrides
        dealer_skus.service_level,
        dealer_skus.min_qty,
        dealer_skus.max_qty

    from positions
    inner join dealer_skus
        on
            positions.dealer_id = dealer_skus.dealer_id
            and positions.sku = dealer_skus.sku
    inner join dealers
        on positions.dealer_id = dealers.dealer_id
    inner join skus
        on positions.sku = skus.sku

)

select * from final
