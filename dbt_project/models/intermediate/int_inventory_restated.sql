-- Restatement rule: one snapshot per (dealer_id, sku, snapshot_date), from the latest delivery
-- (the last line wins if a delivery repeats a key).
with

inventory as (

    select * from {{ ref('stg_vmi__inventory') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by dealer_id, sku, snapshot_date
            order by delivery_seq desc, source_line desc
        ) as delivery_rank
    from inventory

),

final as (

    select
        dealer_id,
        sku,
        file_sha256,
        source_file,
        on_hand,
        source_line,
        delivery_seq,
        snapshot_date,
        loaded_at
    from ranked
    where delivery_rank = 1

)

select * from final
