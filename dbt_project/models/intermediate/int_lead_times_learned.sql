-- Lead time per dealer learned from received shipments: received_date - ship_date in days,
-- over shipments received on or before as_of.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

receipts as (

    select
        shipments.dealer_id,
        {{ days_between('shipments.ship_date', 'shipments.received_date') }} as lead_time_days
    from {{ ref('int_shipments_restated') }} as shipments
    cross join as_of
    where
        shipments.received_date is not null
        and shipments.received_date <= as_of.as_of_date
        -- A receipt dated before its shipment is a data error, not a negative lead time.
        and shipments.received_date >= shipments.ship_date

),

final as (

    select
        dealer_id,
        count(*) as lead_time_receipts,
        avg(cast(lead_time_days as double precision)) as lead_time_days_learned,
        -- Sample sd; null with a single receipt.
        stddev_samp(cast(lead_time_days as double precision)) as lead_time_sd_days_learned
    from receipts
    group by dealer_id

)

select * from final
