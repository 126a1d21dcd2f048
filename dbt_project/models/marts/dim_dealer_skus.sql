-- Active dealer x SKU pairs at as_of: pairs with a sell-through row or an inventory snapshot in
-- the last active_window_days, plus pairs listed in the dealer_skus master, minus pairs that
-- master marks active = false. Only dealers and SKUs known to the masters are kept.
with

as_of as (

    select
        as_of_date,
        {{ add_days('1 - ' ~ var('active_window_days'), 'as_of_date') }} as window_start_date
    from {{ ref('int_as_of_date') }}

),

sales as (

    select sales.*
    from {{ ref('int_sell_through_restated') }} as sales
    cross join as_of
    where sales.sale_date <= as_of.as_of_date

),

recent_sales_pairs as (

    select distinct
        sales.dealer_id,
        sales.sku
    from sales
    cross join as_of
    where sales.sale_date >= as_of.window_start_date

),

recent_inventory_pairs as (

    select distinct
        inventory.dealer_id,
        inventory.sku
    from {{ ref('int_inventory_restated') }} as inventory
    cross join as_of
    where inventory.snapshot_date between as_of.window_start_date and as_of.as_of_date

),

overrides as (

    select * from {{ ref('stg_vmi__dealer_skus') }}

),

candidate_pairs as (

    select dealer_id, sku from recent_sales_pairs
    union
    select dealer_id, sku from recent_inventory_pairs
    union
    select dealer_id, sku from overrides

),

sale_dates as (

    select
        dealer_id,
        sku,
        min(sale_date) as first_sale_date,
        max(sale_date) as last_sale_date
    from sales
    where qty_sold > 0
    group by dealer_id, sku

),

dealers as (

    select * from {{ ref('dim_dealers') }}

),

pair_lead_times as (

    select * from {{ ref('int_pair_lead_times_learned') }}

),

final as (

    select
        candidate_pairs.dealer_id,
        candidate_pairs.sku,
        overrides.service_level,
        overrides.min_qty,
        overrides.max_qty,
        true as is_active,
        coalesce(pair_lead_times.pair_lead_time_receipts, 0) as lead_time_receipts,
        -- Pair mean blended with the dealer's: weight n / (n + k) on the pair's own receipts.
        case
            when pair_lead_times.pair_lead_time_days_learned is null
                then dealers.lead_time_days_used
            else
                (
                    pair_lead_times.pair_lead_time_receipts
                    * pair_lead_times.pair_lead_time_days_learned
                    + {{ var('lead_time_prior_receipts') }} * dealers.lead_time_days_used
                )
                / (
                    pair_lead_times.pair_lead_time_receipts
                    + cast({{ var('lead_time_prior_receipts') }} as double precision)
                )
        end as lead_time_days_used,
        case
            when pair_lead_times.pair_lead_time_sd_days_learned is null
                then dealers.lead_time_sd_days_used
            else
                (
                    pair_lead_times.pair_lead_time_receipts
                    * pair_lead_times.pair_lead_time_sd_days_learned
                    + {{ var('lead_time_prior_receipts') }} * dealers.lead_time_sd_days_used
                )
                / (
                    pair_lead_times.pair_lead_time_receipts
                    + cast({{ var('lead_time_prior_receipts') }} as double precision)
                )
        end as lead_time_sd_days_used,
        sale_dates.first_sale_date,
        sale_dates.last_sale_date
    from candidate_pairs
    inner join dealers
        on candidate_pairs.dealer_id = dealers.dealer_id
    inner join {{ ref('stg_vmi__skus') }} as skus
        on candidate_pairs.sku = skus.sku
    left join overrides
        on
            candidate_pairs.dealer_id = overrides.dealer_id
            and candidate_pairs.sku = overrides.sku
    left join pair_lead_times
        on
            candidate_pairs.dealer_id = pair_lead_times.dealer_id
            and candidate_pairs.sku = pair_lead_times.sku
    left join sale_dates
        on
            candidate_pairs.dealer_id = sale_dates.dealer_id
            and candidate_pairs.sku = sale_dates.sku
    where coalesce(overrides.is_active, true)

)

select * from final
