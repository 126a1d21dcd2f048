-- Complete calendar quarters of the day spine: quarters whose first day is in the spine and
-- whose last day is on or before as_of, with the number of Sundays (the inventory count day).
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

calendar as (

    select
        calendar_date,
        week_start,
        cast({{ dbt.date_trunc('quarter', 'calendar_date') }} as date) as quarter_start
    from {{ ref('int_calendar_days') }}

),

quarters as (

    select
        quarter_start,
        min(calendar_date) as first_calendar_date,
        sum(case when calendar_date = {{ add_days(6, 'week_start') }} then 1 else 0 end)
            as sundays
    from calendar
    group by quarter_start

),

final as (

    select
        quarters.quarter_start,
        {{ add_days(-1, "cast(" ~ dbt.dateadd('month', 3, 'quarters.quarter_start') ~ " as date)") }}
            as quarter_end,
        cast(quarters.sundays as integer) as sundays
    from quarters
    cross join as_of
    where
        quarters.first_calendar_date = quarters.quarter_start
        and {{ add_days(-1, "cast(" ~ dbt.dateadd('month', 3, 'quarters.quarter_start') ~ " as date)") }}
        <= as_of.as_of_date

)

select * from final
