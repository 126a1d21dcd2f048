-- The escalation walk per dealer and scored quarter (fct_dealer_scorecard_quarterly), in order.
-- quarters_below = consecutive quarters below benchmark ending with this one (0 when this quarter
-- is at or above benchmark). The state follows from it:
--   0 or 1 -> ok, 2 -> warning (formal warning; improvement plan agreed),
--   3 -> improvement_plan (below again while on the plan), 4 or more -> exit_review (exit review
--   with stock buy-back). One quarter at or above benchmark resets the count: back to ok.
-- state_since_quarter = first quarter of the unbroken run of this state ending at this quarter.
with

scorecard as (

    select
        dealer_id,
        quarter_start,
        score,
        below_benchmark
    from {{ ref('fct_dealer_scorecard_quarterly') }}

),

-- Every quarter at or above benchmark opens a new group; below quarters join the open one.
grouped as (

    select
        *,
        sum(case when below_benchmark then 0 else 1 end) over (
            partition by dealer_id
            order by quarter_start
            rows between unbounded preceding and current row
        ) as reset_group
    from scorecard

),

counted as (

    select
        *,
        case
            when not below_benchmark then 0
            else
                row_number() over (
                    partition by dealer_id, reset_group
                    order by quarter_start
                )
                - case when reset_group > 0 then 1 else 0 end
        end as quarters_below
    from grouped

),

stated as (

    select
        *,
        case
            when quarters_below >= {{ var('escalation_exit_review_quarters') }} then 'exit_review'
            when quarters_below >= {{ var('escalation_improvement_plan_quarters') }}
                then 'improvement_plan'
            when quarters_below >= {{ var('escalation_warning_quarters') }} then 'warning'
            else 'ok'
        end as state
    from counted

),

changes as (

    select
        *,
        case
            when
                lag(state) over (partition by dealer_id order by quarter_start) = state
                then 0
            else 1
        end as is_state_change
    from stated

),

runs as (

    select
        *,
        sum(is_state_change) over (
            partition by dealer_id
            order by quarter_start
            rows between unbounded preceding and current row
        ) as state_run
    from changes

),

final as (

    select
        dealer_id,
        quarter_start,
        score,
        below_benchmark,
        cast(quarters_below as integer) as quarters_below,
        state,
        min(quarter_start) over (partition by dealer_id, state_run) as state_since_quarter
    from runs

)

select * from final
