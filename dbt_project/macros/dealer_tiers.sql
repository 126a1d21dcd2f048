{#- The scorecard KPIs (fct_dealer_scorecard_quarterly, int_dealer_tiers, fct_dealer_tier_proposal):
    name, direction (higher or lower is better), label for sentences, and whether every tier
    must give it a benchmark. The KPIs added later (required false) may lack one in an older
    var: their benchmark is then null and they are not scored. -#}
{% macro scorecard_kpis() %}
    {%- set kpis = [] %}
    {%- for name, direction, label, required in [
        ('sell_through_rate', 'higher', 'sell-through rate', true),
        ('inventory_turnover', 'higher', 'inventory turnover', true),
        ('stockout_share', 'lower', 'stock-out share', true),
        ('slow_mover_share', 'lower', 'slow-mover share', true),
        ('count_coverage', 'higher', 'count coverage', true),
        ('days_of_inventory', 'lower', 'days of inventory', false),
        ('cross_territory_share', 'lower', 'cross-territory share', false),
        ('price_breach_share', 'lower', 'price-breach share', false),
        ('feed_timeliness', 'higher', 'feed timeliness', false),
        ('forecast_wape', 'lower', 'forecast WAPE', false),
    ] %}
        {%- do kpis.append({'name': name, 'direction': direction, 'label': label,
                            'required': required}) %}
    {%- endfor %}
    {{ return(kpis) }}
{% endmacro %}

{#- The dealer tiers of the var dealer_tiers (policy.yml `tiers`, replenishment/tiers.py) as a
    list of dicts with every field filled; empty var: one tier, var default_tier, from
    scorecard_benchmarks, scorecard_min_score and the escalation_* vars. -#}
{% macro dealer_tier_list() %}
    {%- set kpis = scorecard_kpis() | selectattr('required') | map(attribute='name') | list %}
    {%- set configured = var('dealer_tiers') or {} %}
    {%- set tiers = [] %}
    {%- if configured | length == 0 %}
        {%- set benchmarks = var('scorecard_benchmarks') %}
        {%- do tiers.append({
            'tier': var('default_tier'), 'rank': 1, 'benchmarks': benchmarks,
            'min_score': var('scorecard_min_score'),
            'warning_quarters': var('escalation_warning_quarters'),
            'improvement_plan_quarters': var('escalation_improvement_plan_quarters'),
            'exit_review_quarters': var('escalation_exit_review_quarters'),
            'credit': {}, 'rebate_steps': [],
        }) %}
    {%- else %}
        {%- for name, rule in configured.items() %}
            {%- do tiers.append({
                'tier': name, 'rank': rule.get('rank', loop.index),
                'benchmarks': rule.get('benchmarks') or {},
                'min_score': rule.get('min_score', var('scorecard_min_score')),
                'warning_quarters': rule.get('warning_quarters',
                    var('escalation_warning_quarters')),
                'improvement_plan_quarters': rule.get('improvement_plan_quarters',
                    var('escalation_improvement_plan_quarters')),
                'exit_review_quarters': rule.get('exit_review_quarters',
                    var('escalation_exit_review_quarters')),
                'credit': rule.get('credit') or {}, 'rebate_steps': rule.get('rebate_steps') or [],
            }) %}
        {%- endfor %}
    {%- endif %}
    {%- for tier in tiers %}
        {%- for kpi in kpis %}
            {%- if tier['benchmarks'] is not mapping or tier['benchmarks'].get(kpi) is none %}
                {{ exceptions.raise_compiler_error(
                    "tier " ~ tier['tier'] ~ ": benchmarks need a number for every KPI"
                    ~ " (var dealer_tiers, or scorecard_benchmarks without tiers); missing: " ~ kpi
                ) }}
            {%- endif %}
        {%- endfor %}
    {%- endfor %}
    {{ return(tiers) }}
{% endmacro %}

{#- A Jinja value as an SQL literal: null, a number cast to double, or a quoted string. -#}
{% macro sql_literal(value) -%}
    {%- if value is none -%} null
    {%- elif value is number -%} cast({{ value }} as double)
    {%- else -%} '{{ value | string | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}

{#- A number as text for a sentence: 2 decimals at most, no trailing zeros (2.0 -> '2'). -#}
{% macro number_text(expression) -%}
    rtrim(rtrim(cast(round({{ expression }}, 2) as varchar), '0'), '.')
{%- endmacro %}

{#- An amount as text for a sentence: rounded to a whole number. -#}
{% macro money_text(expression) -%}
    cast(cast(round({{ expression }}, 0) as bigint) as varchar)
{%- endmacro %}
