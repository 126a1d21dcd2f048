-- Lead time per dealer x SKU learned from received shipments, blended with the dealer's lead
-- time (dim-level value used by the policy) so a pair with a few receipts moves only a little:
-- weight n / (n + k) on the pair's own mean, k = lead_time_prior_receipts. Pairs whose SKU
-- ships on another route (bulky items, drop shipments) get their own lead time once they have
-- the history for it; all others keep the dealer's.
with

receipts as (

    select * from {{ ref('int_shipment_receipts') }}

),

final as (

    select
        dealer_id,
        sku,
        count(*) as pair_lead_time_receipts,
        avg(cast(lead_time_days as double precision)) as pair_lead_time_days_learned,
        stddev_samp(cast(lead_time_days as double precision)) as pair_lead_time_sd_days_learned
    from receipts
    group by dealer_id, sku

)

select * from final
