-- Each master dealer's current escalation state: the latest quarter of
-- fct_dealer_escalation_quarterly (state machine there). since_quarter = first quarter of the
-- unbroken run of that state. A dealer without a complete scored quarter is ok, with nulls.
with

dealers as (

    select dealer_id from {{ ref('dim_dealers') }}

),

walked as (

    select
        *,
        row_number() over (partition by dealer_id order by quarter_start desc) as recency
    from {{ ref('fct_dealer_escalation_quarterly') }}

),

latest as (

    select * from walked where recency = 1

),

final as (

    select
        dealers.dealer_id,
        coalesce(latest.state, 'ok') as state,
        latest.state_since_quarter as since_quarter,
        latest.quarter_start as latest_quarter,
        latest.score as latest_score,
        coalesce(latest.below_benchmark, false) as is_below_benchmark,
        coalesce(latest.quarters_below, 0) as quarters_below
    from dealers
    left join latest
        on dealers.dealer_id = latest.dealer_id

)

select * from final
