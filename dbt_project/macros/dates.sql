{#
    Date helpers over dbt's cross-database macros, so model SQL stays portable: each returns a
    DATE (DuckDB's date + interval yields a TIMESTAMP, hence the cast).
#}

{% macro add_days(days, date_expression) -%}
    cast({{ dbt.dateadd('day', days, date_expression) }} as date)
{%- endmacro %}

{% macro days_between(start_date, end_date) -%}
    {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}

{% macro week_start(date_expression) -%}
    {#- Monday-based weeks (ISO 8601), as on DuckDB and Postgres. -#}
    cast({{ dbt.date_trunc('week', date_expression) }} as date)
{%- endmacro %}

{% macro as_of_literal() -%}
    {#-
        The validated `as_of` var as a SQL date literal, or none when unset. Only a string of the
        form YYYY-MM-DD that is a real calendar date reaches the SQL text. Without the var, the
        environment variable VMI_DBT_AS_OF (how the nightly flow passes it: see run_value).
    -#}
    {%- set raw = run_value('as_of', 'VMI_DBT_AS_OF') -%}
    {%- if raw is none or (raw | string | trim) in ('', 'None', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = raw | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error("var as_of must be a date 'YYYY-MM-DD', got: " ~ text) }}
    {%- endif -%}
    {%- set parsed = modules.datetime.datetime.strptime(text, '%Y-%m-%d') -%}
    {{ return("cast('" ~ parsed.strftime('%Y-%m-%d') ~ "' as date)") }}
{%- endmacro %}

{% macro run_value(name, environment_variable) -%}
    {#-
        A value that changes with every nightly run (as_of, run_id): the var `name` when given
        (--vars), else the environment variable, else none. The nightly flow passes both in the
        environment, not as --vars: dbt re-parses the whole project whenever --vars change, but
        only the files that read an environment variable whose value changed (here
        int_as_of_date and fct_dealer_kpis_by_run), so the next night's build parses in a
        fraction of the time.
    -#}
    {%- set given = var(name, none) -%}
    {%- if given is none -%}
        {%- set given = env_var(environment_variable, '') | trim or none -%}
    {%- endif -%}
    {{ return(given) }}
{%- endmacro %}
