-- Restatement rule: one row per shipment_id, from the latest delivery (a later delivery fills in
-- received_date or corrects the quantity).
with

shipments as (

    select * from {{ ref('stg_vmi__shipments') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by shipment_id
            order by delivery_seq desc, source_line desc
        ) as delivery_rank
    from shipments

),

final as (

    select
        shipment_id,
        dealer_id,
        sku,
        file_sha256,
        source_file,
        shipped_qty,
        source_line,
        delivery_seq,
        ship_date,
        expected_date,
        received_date,
        loaded_at
    from ranked
    where delivery_rank = 1

)

select * from final
