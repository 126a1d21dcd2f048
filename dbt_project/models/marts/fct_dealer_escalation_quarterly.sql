-- The escalation walk per dealer and scored quarter (fct_dealer_scorecard_quarterly), in order.
-- quarters_below = consecutive quarters below benchmark ending with this one (0 when this quarter
-- is at or above benchmark). The state follows from it:
--   0 or 1 -> ok, 2 -> warning (formal warning; improvement plan agreed),
--   3 -> improvement_plan (below again while on the plan), 4 or more -> exit_review (exit review
--   with stock buy-back). One quarter at or above benchmark resets the count: back to ok.
-- state_since_quarter = first quarter of the unbroken run of this state ending at this quarter.
-- The quarter counts are the dealer's tier's (int_dealer_tiers: policy.yml `tiers.<name>.escalation`);
-- a quarter whose tier has no row uses the escalation_* vars.
with

scorecard as (

    select
        dealer_id,
        tier,
        quarter_start,
        score,
        below_benchmark
    from {{ ref('fct_dealer_scorecard_quarterly') }}

),

tiers as (

    select
        tier,
        warning_quarters,
        improvement_plan_quarters,
        exit_review_quarters
    from {{ ref('int_dealer_tiers') }}

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

thresholds as (

    select
        counted.*,
        coalesce(tiers.exit_review_quarters, {{ var('escalation_exit_review_quarters') }})
            as exit_review_quarters,
        coalesce(
            tiers.improvement_plan_quarters, {{ var('escalation_improvement_plan_quarters') }}
        ) as improvement_plan_quarters,
        coalesce(tiers.warning_quarters, {{ var('escalation_warning_quarters') }})
            as warning_quarters
    from counted
    left join tiers
        on counted.tier = tiers.tier

),

stated as (

    select
        *,
        case
            when quarters_below >= exit_review_quarters then 'exit_review'
            when quarters_below >= improvement_plan_quarters then 'improvement_plan'
            when quarters_below >= warning_quarters then 'warning'
            else 'ok'
        end as state
    from thresholds

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
        tier,
        quarter_start,
        score,
        below_benchmark,
        cast(quarters_below as integer) as quarters_below,
        state,
        min(quarter_start) over (partition by dealer_id, state_run) as state_since_quarter
    from runs

)

select * from final
