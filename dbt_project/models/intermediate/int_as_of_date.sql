-- One row: the run's as-of date. From the `as_of` var when given, else the newest date in the
-- dealer feeds (sell-through dates, inventory snapshot dates). Every mart cross-joins this row.
{%- set as_of = as_of_literal() %}

with

sell_through as (

    select max(sale_date) as max_feed_date from {{ ref('stg_vmi__sell_through') }}

),

inventory as (

    select max(snapshot_date) as max_feed_date from {{ ref('stg_vmi__inventory') }}

),

feed_dates as (

    select max_feed_date from sell_through
    union all
    select max_feed_date from inventory

),

final as (

    select
        -- An aggregate over feed_dates so the model is one row either way.
        coalesce({{ as_of if as_of is not none else 'cast(null as date)' }}, max(max_feed_date))
            as as_of_date,
        max(max_feed_date) as max_feed_date,
        {{ 'true' if as_of is not none else 'false' }} as is_as_of_from_var
    from feed_dates

)

select * from final
