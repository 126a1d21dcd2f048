-- The rebate steps of each dealer tier (var dealer_tiers, policy.yml `tiers.<name>.rebate_steps`):
-- a step's rate is earned when the quarter's inventory turnover, slow-mover share and sales
-- value all meet its conditions; fct_dealer_tier_proposal takes the highest such rate.
{%- set steps = [] %}
{%- for t in dealer_tier_list() %}
    {%- for step in t['rebate_steps'] %}
        {%- do steps.append((t['tier'], loop.index, step)) %}
    {%- endfor %}
{%- endfor %}
with

steps as (

    {% if steps | length == 0 -%}
    select
        cast(null as varchar) as tier,
        cast(null as integer) as step,
        cast(null as double) as rate,
        cast(null as double) as min_turnover,
        cast(null as double) as max_slow_mover_share,
        cast(null as double) as min_sales_value
    where 1 = 0
    {%- else -%}
    {%- for tier, number, step in steps %}
    select
        {{ sql_literal(tier) }} as tier,
        cast({{ number }} as integer) as step,
        cast({{ sql_literal(step.get('rate', 0)) }} as double) as rate,
        cast({{ sql_literal(step.get('min_turnover', 0)) }} as double) as min_turnover,
        cast({{ sql_literal(step.get('max_slow_mover_share', 1)) }} as double)
            as max_slow_mover_share,
        cast({{ sql_literal(step.get('min_sales_value', 0)) }} as double) as min_sales_value
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {%- endif %}

),

final as (

    select * from steps

)

select * from final
