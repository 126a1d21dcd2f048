-- Tier, rebate and credit proposal per master dealer from its latest complete scored quarter
-- (fct_dealer_scorecard_quarterly; rules in policy.yml `tiers`, int_dealer_tiers and
-- int_dealer_rebate_steps; docs/dbt.md "Dealer tiers"):
--   proposed_tier = the highest-rank tier whose benchmarks the quarter meets (share of KPIs
--     scored against that tier -- KPI and benchmark known, scorecard_kpis() -- passing >= that
--     tier's min_score), else the lowest-rank tier; a dealer without a
--     quarter with a scored KPI keeps its current tier.
--   rebate_rate = the highest rate among the proposed tier's steps whose conditions all hold
--     (inventory_turnover >= min_turnover, slow_mover_share <= max_slow_mover_share,
--     sales_value >= min_sales_value; an unknown turnover counts as 0, an unknown slow-mover
--     share as 0); 0 when no step holds.
--   credit_limit = (base_limit + sales_value_share x sales_value) x (1 - cut) ^ breaches, at most
--     max_limit, of the proposed tier's credit rule; breaches = (turnover < min_turnover) +
--     (slow_mover_share > max_slow_mover_share). Null when the tier has no credit rule.
--   reason = one sentence naming the KPIs that drove the tier, the rebate step and the credit.
{%- set kpis = [] %}
{%- for kpi in scorecard_kpis() %}
    {%- do kpis.append((kpi['name'], kpi['direction'], kpi['label'])) %}
{%- endfor %}
with

dealers as (

    select dealer_id, tier as current_tier from {{ ref('dim_dealers') }}

),

tiers as (

    select
        *,
        lead(tier_rank) over (order by tier_rank) as next_rank
    from {{ ref('int_dealer_tiers') }}

),

steps as (

    select * from {{ ref('int_dealer_rebate_steps') }}

),

ranked_quarters as (

    select
        scorecard.*,
        row_number() over (
            partition by scorecard.dealer_id order by scorecard.quarter_start desc
        ) as recency
    from {{ ref('fct_dealer_scorecard_quarterly') }} as scorecard
    where scorecard.kpis_scored > 0

),

latest as (

    select * from ranked_quarters where recency = 1

),

-- The latest quarter judged against every tier's benchmarks.
judged as (

    select
        latest.dealer_id,
        latest.quarter_start,
        latest.sales_value,
        {%- for kpi, _, _ in kpis %}
        latest.{{ kpi }},
        {%- endfor %}
        tiers.tier,
        tiers.tier_rank,
        tiers.min_score,
        {%- for kpi, direction, _ in kpis %}
        tiers.{{ kpi }}_benchmark,
        latest.{{ kpi }} {{ '>=' if direction == 'higher' else '<=' }} tiers.{{ kpi }}_benchmark
            as {{ kpi }}_passed,
        {%- endfor %}
        -- Scored against this tier: the KPI and the tier's benchmark are known.
        {% for kpi, _, _ in kpis -%}
        case when latest.{{ kpi }} is not null and tiers.{{ kpi }}_benchmark is not null
            then 1 else 0 end
        {%- if not loop.last %} + {% endif %}
        {%- endfor %} as kpis_scored
    from latest
    cross join tiers

),

scored as (

    select
        *,
        {% for kpi, _, _ in kpis -%}
        case when {{ kpi }}_passed then 1 else 0 end
        {%- if not loop.last %} + {% endif %}
        {%- endfor %} as kpis_passed,
        concat_ws(
            ', ',
            {%- for kpi, direction, label in kpis %}
            case when {{ kpi }}_passed then
                '{{ label }} ' || {{ number_text(kpi) }} || ' {{ ">=" if direction == "higher" else "<=" }} '
                || {{ number_text(kpi ~ '_benchmark') }}
            end{{ ',' if not loop.last }}
            {%- endfor %}
        ) as passed_text,
        concat_ws(
            ', ',
            {%- for kpi, direction, label in kpis %}
            case when not {{ kpi }}_passed then
                '{{ label }} ' || {{ number_text(kpi) }} || ' {{ "<" if direction == "higher" else ">" }} '
                || {{ number_text(kpi ~ '_benchmark') }}
            end{{ ',' if not loop.last }}
            {%- endfor %}
        ) as failed_text
    from judged

),

qualified as (

    select
        *,
        kpis_scored > 0 and cast(kpis_passed as double) / kpis_scored >= min_score as qualifies
    from scored

),

choice as (

    select
        dealer_id,
        coalesce(
            max(case when qualifies then tier_rank end), min(tier_rank)
        ) as proposed_rank
    from qualified
    group by dealer_id

),

proposal as (

    select
        dealers.dealer_id,
        dealers.current_tier,
        current_tiers.tier_rank as current_rank,
        coalesce(proposed_tiers.tier, dealers.current_tier) as proposed_tier,
        coalesce(proposed_tiers.tier_rank, current_tiers.tier_rank) as proposed_rank,
        coalesce(proposed_tiers.next_rank, current_tiers.next_rank) as next_rank,
        latest.quarter_start,
        coalesce(latest.sales_value, 0) as sales_value,
        latest.inventory_turnover,
        latest.slow_mover_share
    from dealers
    inner join tiers as current_tiers
        on dealers.current_tier = current_tiers.tier
    left join latest
        on dealers.dealer_id = latest.dealer_id
    left join choice
        on dealers.dealer_id = choice.dealer_id
    left join tiers as proposed_tiers
        on choice.proposed_rank = proposed_tiers.tier_rank

),

-- The judgement that explains the move: the proposed tier's when promoted, the current tier's
-- otherwise; and for a dealer who stays, the next tier up it missed.
explained as (

    select
        proposal.*,
        at_proposed.kpis_passed as proposed_passed,
        at_proposed.kpis_scored,
        at_proposed.passed_text as proposed_passed_text,
        at_current.kpis_passed as current_passed,
        at_current.failed_text as current_failed_text,
        next_up.tier as next_tier,
        next_up.failed_text as next_failed_text
    from proposal
    left join qualified as at_proposed
        on
            proposal.dealer_id = at_proposed.dealer_id
            and proposal.proposed_tier = at_proposed.tier
    left join qualified as at_current
        on
            proposal.dealer_id = at_current.dealer_id
            and proposal.current_tier = at_current.tier
    left join qualified as next_up
        on
            proposal.dealer_id = next_up.dealer_id
            and proposal.next_rank = next_up.tier_rank

),

rebates as (

    select
        explained.dealer_id,
        max(steps.rate) as rebate_rate,
        max(steps.step) as rebate_step
    from explained
    inner join steps
        on
            explained.proposed_tier = steps.tier
            and explained.quarter_start is not null
            and coalesce(explained.inventory_turnover, 0) >= steps.min_turnover
            and coalesce(explained.slow_mover_share, 0) <= steps.max_slow_mover_share
            and explained.sales_value >= steps.min_sales_value
    group by explained.dealer_id

),

credited as (

    select
        explained.*,
        coalesce(rebates.rebate_rate, 0) as rebate_rate,
        tiers.credit_base_limit,
        tiers.credit_sales_value_share,
        tiers.credit_max_limit,
        tiers.credit_min_turnover,
        tiers.credit_max_slow_mover_share,
        tiers.credit_cut,
        case
            when explained.quarter_start is null then 0
            else
                (case when coalesce(explained.inventory_turnover, 0) < tiers.credit_min_turnover
                    then 1 else 0 end)
                + (case
                    when coalesce(explained.slow_mover_share, 0)
                        > tiers.credit_max_slow_mover_share
                        then 1 else 0
                end)
        end as credit_breaches
    from explained
    left join rebates
        on explained.dealer_id = rebates.dealer_id
    inner join tiers
        on explained.proposed_tier = tiers.tier

),

limited as (

    select
        *,
        (credit_base_limit + credit_sales_value_share * sales_value)
        * power(1 - credit_cut, credit_breaches) as credit_uncapped
    from credited

),

final as (

    select
        dealer_id,
        current_tier,
        proposed_tier,
        case
            when quarter_start is null then 'keep'
            when proposed_rank > current_rank then 'promote'
            when proposed_rank < current_rank then 'demote'
            else 'keep'
        end as change,
        quarter_start,
        sales_value,
        inventory_turnover,
        slow_mover_share,
        cast(rebate_rate as double) as rebate_rate,
        case
            when credit_max_limit is not null then least(credit_uncapped, credit_max_limit)
            else credit_uncapped
        end as credit_limit,
        cast(credit_breaches as integer) as credit_breaches,
        case
            when quarter_start is null
                then 'Stays ' || current_tier || ': no complete quarter with a scored KPI yet'
            when proposed_rank > current_rank
                then 'Promote ' || current_tier || ' -> ' || proposed_tier || ': quarter from '
                || cast(quarter_start as varchar) || ' meets ' || cast(proposed_passed as varchar)
                || ' of ' || cast(kpis_scored as varchar) || ' ' || proposed_tier
                || ' benchmarks (' || proposed_passed_text || ')'
            when proposed_rank < current_rank
                then 'Demote ' || current_tier || ' -> ' || proposed_tier || ': quarter from '
                || cast(quarter_start as varchar) || ' meets only '
                || cast(current_passed as varchar) || ' of ' || cast(kpis_scored as varchar)
                || ' ' || current_tier || ' benchmarks (misses ' || current_failed_text || ')'
            else
                'Stays ' || current_tier || ': quarter from ' || cast(quarter_start as varchar)
                || ' meets ' || cast(current_passed as varchar) || ' of '
                || cast(kpis_scored as varchar) || ' ' || current_tier || ' benchmarks'
                || case
                    when next_tier is not null and next_failed_text <> ''
                        then ', not ' || next_tier || ' (misses ' || next_failed_text || ')'
                    else ''
                end
        end
        || case
            when quarter_start is null then ''
            else
                '; rebate ' || {{ number_text('100 * rebate_rate') }} || '% at turnover '
                || coalesce({{ number_text('inventory_turnover') }}, 'n/a') || ' and slow-mover share '
                || coalesce({{ number_text('slow_mover_share') }}, 'n/a')
        end
        || case
            when credit_uncapped is null then '.'
            else
                '; credit limit ' || {{ money_text('credit_uncapped') }} || ' = ('
                || {{ money_text('credit_base_limit') }} || ' + ' || {{ number_text('credit_sales_value_share') }}
                || ' x sales ' || {{ money_text('sales_value') }} || ')'
                || case
                    when credit_breaches > 0
                        then ' x ' || {{ number_text('1 - credit_cut') }} || '^'
                        || cast(credit_breaches as varchar) || ' for '
                        || concat_ws(
                            ' and ',
                            case when coalesce(inventory_turnover, 0) < credit_min_turnover
                                then 'turnover below ' || {{ number_text('credit_min_turnover') }} end,
                            case when coalesce(slow_mover_share, 0) > credit_max_slow_mover_share
                                then 'slow-mover share above '
                                || {{ number_text('credit_max_slow_mover_share') }} end
                        )
                    else ''
                end
                || case
                    when credit_max_limit is not null and credit_uncapped > credit_max_limit
                        then ', capped at ' || {{ money_text('credit_max_limit') }}
                    else ''
                end
                || '.'
        end as reason
    from limited

)

select * from final
