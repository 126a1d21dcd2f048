-- Approved lines not yet covered by a shipment, per dealer x SKU.
--
-- An approval made for as-of date t can only be covered by a shipment of the same pair shipped
-- on or after t (and on or before the run's as_of). Allocating shipments to approvals first in,
-- first out, the quantity left uncovered is
--     max(0, max over approval dates t of (approved on or after t - shipped on or after t))
-- (Hall's deficiency for nested eligibility sets), so one late shipment never covers two
-- approvals twice and an over-shipment never makes on_order negative.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

approvals as (

    select approved_lines.*
    from {{ ref('stg_vmi__approved_lines') }} as approved_lines
    cross join as_of
    where
        approved_lines.as_of_date < as_of.as_of_date
        and not approved_lines.is_held
        and approved_lines.approved_qty > 0

),

-- Approving the same run twice re-records its lines: the latest approval per pair and date wins.
latest_approvals as (

    select
        *,
        row_number() over (
            partition by dealer_id, sku, as_of_date
            order by approved_at desc, approval_id desc
        ) as approval_rank
    from approvals

),

approved_from_date as (

    select
        dealer_id,
        sku,
        as_of_date,
        sum(approved_qty) over (
            partition by dealer_id, sku
            order by as_of_date desc
            rows between unbounded preceding and current row
        ) as approved_qty_from_date
    from latest_approvals
    where approval_rank = 1

),

shipments as (

    select shipments.*
    from {{ ref('int_shipments_restated') }} as shipments
    cross join as_of
    where shipments.ship_date <= as_of.as_of_date

),

shipped_from_date as (

    select
        approved_from_date.dealer_id,
        approved_from_date.sku,
        approved_from_date.as_of_date,
        approved_from_date.approved_qty_from_date,
        coalesce(sum(shipments.shipped_qty), 0) as shipped_qty_from_date
    from approved_from_date
    left join shipments
        on
            approved_from_date.dealer_id = shipments.dealer_id
            and approved_from_date.sku = shipments.sku
            and shipments.ship_date >= approved_from_date.as_of_date
    group by
        approved_from_date.dealer_id,
        approved_from_date.sku,
        approved_from_date.as_of_date,
        approved_from_date.approved_qty_from_date

),

final as (

    select
        dealer_id,
        sku,
        max(approved_qty_from_date) as approved_qty,
        max(shipped_qty_from_date) as shipped_qty_since_first_approval,
        greatest(max(approved_qty_from_date - shipped_qty_from_date), 0) as on_order,
        min(as_of_date) as first_approval_date
    from shipped_from_date
    group by dealer_id, sku

)

select * from final
