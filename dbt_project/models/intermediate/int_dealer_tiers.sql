-- One row per dealer tier (var dealer_tiers from policy.yml; without it the single default tier
-- of scorecard_benchmarks): its rank (1 = lowest), KPI benchmarks (scorecard_kpis(); null for
-- a later KPI the var leaves out: not scored), the score under which a quarter is below
-- benchmark, the escalation quarter counts and the credit rule.
{%- set kpis = scorecard_kpis() | map(attribute='name') | list %}
{%- set tiers = dealer_tier_list() %}
with

tiers as (

    {% for t in tiers -%}
    select
        {{ sql_literal(t['tier']) }} as tier,
        cast({{ t['rank'] }} as integer) as tier_rank,
        {%- for kpi in kpis %}
        cast({{ sql_literal(t['benchmarks'].get(kpi)) }} as double) as {{ kpi }}_benchmark,
        {%- endfor %}
        {{ sql_literal(t['min_score']) }} as min_score,
        cast({{ t['warning_quarters'] }} as integer) as warning_quarters,
        cast({{ t['improvement_plan_quarters'] }} as integer) as improvement_plan_quarters,
        cast({{ t['exit_review_quarters'] }} as integer) as exit_review_quarters,
        {%- for field in ['base_limit', 'sales_value_share', 'max_limit', 'min_turnover',
                          'max_slow_mover_share', 'cut'] %}
        cast({{ sql_literal(t['credit'].get(field)) }} as double) as credit_{{ field }},
        {%- endfor %}
        {{ 'true' if t['tier'] == var('default_tier') else 'false' }} as is_default
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

),

final as (

    select * from tiers

)

select * from final
