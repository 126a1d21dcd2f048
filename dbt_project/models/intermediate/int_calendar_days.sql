-- A day spine ending at as_of, var('calendar_days') long, with the Monday of each day's week.
-- dbt.generate_series keeps it portable (no warehouse-specific range function).
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

numbers as (

    {{ dbt.generate_series(var('calendar_days')) }}

),

days as (

    select {{ add_days('1 - numbers.generated_number', 'as_of.as_of_date') }} as calendar_date
    from numbers
    cross join as_of

),

final as (

    select
        calendar_date,
        {{ week_start('calendar_date') }} as week_start
    from days

)

select * from final
