-- Run history: one row per run and stage (a run without timings keeps one row, stage null);
-- a failed run says where it stopped and why.
with

runs as (

    select * from {{ ref('stg_pipeline__runs') }}

),

stage_timings as (

    select * from {{ ref('stg_pipeline__stage_timings') }}

),

final as (

    select
        runs.run_id,
        runs.run_status,
        runs.failed_stage,
        runs.error_class,
        runs.error_message,
        stage_timings.stage_name,
        runs.out_dir,
        stage_timings.stage_seconds,
        stage_timings.stage_rows,
        {{ dbt.datediff('runs.started_at', 'runs.finished_at', 'second') }} as run_seconds,
        runs.as_of_date,
        runs.started_at,
        runs.finished_at
    from runs
    left join stage_timings
        on runs.run_id = stage_timings.run_id

)

select * from final
