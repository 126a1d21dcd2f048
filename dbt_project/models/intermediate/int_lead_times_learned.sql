-- Lead time per dealer learned from received shipments: received_date - ship_date in days,
-- over shipments received on or before as_of.
with

receipts as (

    select * from {{ ref('int_shipment_receipts') }}

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
