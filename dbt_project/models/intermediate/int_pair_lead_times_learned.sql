-- Lead time per dealer x SKU learned from received shipments, blended with the dealer's lead
-- time (dim-level value used by the policy) so a pair with a few receipts moves only a little:
-- weight n / (n + k) on the pair's own mean, k = lead_time_prior_receipts. Pairs whose SKU
-- ships on another route (bulky items, drop shipments) get their own lead time once they have
-- the history for it; all others keep the dealer's.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

receipts as (

    select
        shipments.dealer_id,
        shipments.sku,
        {{ days_between('shipments.ship_date', 'shipments.received_date') }} as lead_time_days
    from {{ ref('int_shipments_restated') }} as shipments
    cross join as_of
    where
        shipments.received_date is not null
        and shipments.received_date <= as_of.as_of_date
        and shipments.received_date >= shipments.ship_date

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
