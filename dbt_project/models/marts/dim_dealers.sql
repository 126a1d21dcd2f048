-- Dealer master with lead times learned from receipts. The learned mean is blended with the
-- master value, weight n / (n + k) on the learned one (n receipts, k = lead_time_prior_receipts),
-- so a handful of receipts nudges the plan and a long history takes it over.
with

dealers as (

    select * from {{ ref('stg_vmi__dealers') }}

),

learned as (

    select * from {{ ref('int_lead_times_learned') }}

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
        ) as learned_weight
    from dealers
    left join learned
        on dealers.dealer_id = learned.dealer_id

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
