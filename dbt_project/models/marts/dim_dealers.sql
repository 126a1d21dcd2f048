-- Dealer master with lead times learned from receipts. The learned mean is blended with the
-- master value, weight n / (n + k) on the learned one (n receipts, k = lead_time_prior_receipts),
-- so a handful of receipts nudges the plan and a long history takes it over.
-- tier: the master's tier when it is one of int_dealer_tiers, else the default tier
-- (master_tier keeps what the master said).
with

dealers as (

    select * from {{ ref('stg_vmi__dealers') }}

),

learned as (

    select * from {{ ref('int_lead_times_learned') }}

),

tiers as (

    select tier, is_default from {{ ref('int_dealer_tiers') }}

),

default_tier as (

    select min(tier) as tier from tiers where is_default

),

joined as (

    select
        dealers.*,
        learned.lead_time_days_learned,
        learned.lead_time_sd_days_learned,
        coalesce(learned.lead_time_receipts, 0) as lead_time_receipts,
        cast(coalesce(learned.lead_time_receipts, 0) as double precision)
        / (
            coalesce(learned.lead_time_receipts, 0)
            + cast({{ var('lead_time_prior_receipts') }} as double precision)
        ) as learned_weight,
        coalesce(tiers.tier, default_tier.tier) as resolved_tier
    from dealers
    left join learned
        on dealers.dealer_id = learned.dealer_id
    left join tiers
        on dealers.tier = tiers.tier
    cross join default_tier

),

final as (

    select
        dealer_id,
        dealer_name,
        region,
        territory,
        lead_time_days,
        lead_time_sd_days,
        review_period_days,
        resolved_tier as tier,
        tier as master_tier,
        lead_time_days_learned,
        lead_time_sd_days_learned,
        lead_time_receipts,
        case
            when lead_time_days_learned is null then lead_time_days
            when lead_time_days is null then lead_time_days_learned
            else
                learned_weight * lead_time_days_learned
                + (1 - learned_weight) * lead_time_days
        end as lead_time_days_used,
        -- The sd needs two receipts to exist; until then the master sd stands.
        case
            when lead_time_sd_days_learned is null then lead_time_sd_days
            when lead_time_sd_days is null then lead_time_sd_days_learned
            else
                learned_weight * lead_time_sd_days_learned
                + (1 - learned_weight) * lead_time_sd_days
        end as lead_time_sd_days_used
    from joined

)

select * from final
