-- Dealer KPIs kept run by run (the store behind the view rpt_dealer_kpis, which shows only
-- published runs). Each build appends the rows of fct_dealer_kpis under the run_id (the var, else
-- VMI_DBT_RUN_ID as the nightly flow passes it: macros/dates.sql run_value), with the
-- run's as-of date and the dealer's name and region; a second build of the same run replaces
-- that run's rows (delete+insert on run_id, dealer_id). Every column of fct_dealer_kpis is
-- carried (`kpis.*`), so a KPI added there reaches this table with no edit here:
-- on_schema_change appends it, and earlier runs hold null in it.
--
-- Without a run_id (a developer's `dbt build` without --vars) nothing is added, but the table
-- is still created with its columns. Rows of failed or replaced runs are deleted by the flow,
-- so no run status is read here. `--full-refresh` rebuilds the table and drops the history.
--
-- Upgrade: before this table existed the history was the table reporting.rpt_dealer_kpis. The
-- first build of this table copies that table's rows (other runs than this build's), before
-- rpt_dealer_kpis is rebuilt as a view, so no history is lost.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['run_id', 'dealer_id'],
        on_schema_change='append_new_columns',
    )
}}
{%- set run_id = run_value('run_id', 'VMI_DBT_RUN_ID') %}
{%- set legacy = none %}
{#- not in a unit test (its inputs are the given rows): only a real build migrates #}
{%- if execute and model.resource_type == 'model' and not is_incremental() %}
    {%- set legacy = adapter.get_relation(this.database, this.schema, 'rpt_dealer_kpis') %}
{%- endif %}
{%- set migrate = legacy is not none and legacy.type == 'table' %}

with

kpis as (

    select * from {{ ref('fct_dealer_kpis') }}

),

dealers as (

    select * from {{ ref('dim_dealers') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

run as (

    select
        cast(
            {% if run_id is none -%}
                null
            {%- else -%}
                '{{ run_id | string | replace("'", "''") }}'
            {%- endif %} as {{ dbt.type_string() }}
        ) as run_id

),

final as (

    select
        run.run_id,
        -- every KPI column, dealer_id first; listed by name nowhere, so new ones flow through
        kpis.*,
        dealers.dealer_name,
        dealers.region,
        as_of.as_of_date
    from kpis
    cross join run
    cross join as_of
    left join dealers
        on kpis.dealer_id = dealers.dealer_id
    where run.run_id is not null
    {%- if migrate %}

    union all by name

    -- the pre-upgrade history (see the header), once
    select legacy.*
    from {{ legacy }} as legacy
    where legacy.run_id is distinct from (select run.run_id from run)
    {%- endif %}

)

select * from final
