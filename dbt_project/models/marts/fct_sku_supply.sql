-- What the manufacturer can ship per SKU (optional master/supply.csv): the latest count on or
-- before as_of per SKU. A SKU listed here caps the night's suggestions (replenishment/allocation.py
-- allocates available_qty over the dealers); a SKU not listed is not capped.
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

counts as (

    select supply.*
    from {{ ref('stg_vmi__supply') }} as supply
    cross join as_of
    where supply.supply_as_of <= as_of.as_of_date

),

ranked as (

    select
        *,
        row_number() over (partition by sku order by supply_as_of desc) as count_rank
    from counts

),

final as (

    select
        sku,
        available_qty,
        supply_as_of
    from ranked
    where count_rank = 1

)

select * from final
