-- One row per received shipment up to as_of with its lead time in days
-- (received_date - ship_date). Both the dealer and the dealer x SKU lead times learn from it.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

final as (

    select
        shipments.shipment_id,
        shipments.dealer_id,
        shipments.sku,
        {{ days_between('shipments.ship_date', 'shipments.received_date') }} as lead_time_days
    from {{ ref('int_shipments_restated') }} as shipments
    cross join as_of
    where
        shipments.received_date is not null
        and shipments.received_date <= as_of.as_of_date
        -- A receipt dated before its shipment is a data error, not a negative lead time.
        and shipments.received_date >= shipments.ship_date

)

select * from final
