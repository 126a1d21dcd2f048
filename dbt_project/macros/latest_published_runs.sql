{#
    The run each reader should see per as-of date: the latest `published` run of it in
    pipeline.runs (by started_at). A rerun is `running` until its publish commits, so the
    reporting views built from this keep showing the published run until then.
#}
{% macro latest_published_runs(runs) %}
    select
        ranked.run_id,
        ranked.as_of_date
    from (
        select
            published.run_id,
            published.as_of_date,
            row_number() over (
                partition by published.as_of_date
                order by published.started_at desc nulls last, published.run_id desc
            ) as run_rank
        from {{ runs }} as published
        where published.run_status = 'published'
    ) as ranked
    where ranked.run_rank = 1
{% endmacro %}
