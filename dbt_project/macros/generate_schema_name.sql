{#
    Custom schemas are used verbatim (`staging`, `intermediate`, `marts`, `reporting`) instead of
    dbt's default `<target_schema>_<custom>`: the Python stages read `marts.*` by name.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
