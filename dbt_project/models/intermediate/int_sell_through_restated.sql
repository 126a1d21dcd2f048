-- Restatement rule: for each (dealer_id, date) the latest delivery that covers it wins for that
-- dealer-day, for all SKUs; a SKU missing from the restated delivery is gone for that day.
-- Earlier deliveries stay in raw (and in staging) as history.
with

sell_through as (

    select * from {{ ref('stg_vmi__sell_through') }}

),

ranked as (

    select
        *,
        max(delivery_seq) over (partition by dealer_id, sale_date) as winning_delivery_seq
    from sell_through

),

final as (

    select
        dealer_id,
        sku,
        file_sha256,
        customer_region,
        source_file,
        qty_sold,
        unit_price,
        source_line,
        delivery_seq,
        sale_date,
        loaded_at
    from ranked
    where delivery_seq = winning_delivery_seq

)

select * from final
