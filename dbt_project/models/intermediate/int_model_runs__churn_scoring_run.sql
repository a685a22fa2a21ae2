{#- The churn hazard fit churn_risk_scores applies, exactly one row: the latest run
    (model_params.churn_model_runs, written by orchestration/modeling/churn_hazard.py) dated on or
    before the business date (a backfill never uses a later one), and whether it is scored as a
    logistic hazard or falls back on the 定期フロー hazard (a fallback run, a run without
    coefficients, or no run at all), with why. -#}

with

model_runs as (

    select * from {{ ref('stg_model_params__churn_model_runs') }}

),

model_coefficients as (

    select * from {{ ref('stg_model_params__churn_model_coefficients') }}

),

latest_run as (

    select
        model_version,
        method,
        fallback_reason

    from model_runs
    where as_of_date <= {{ as_of_date() }}
    order by as_of_date desc, fitted_at desc, model_version desc
    limit 1

),

run_coefficients as (

    select model_coefficients.*
    from model_coefficients
    inner join latest_run
        on latest_run.model_version = model_coefficients.model_version
    where latest_run.method = 'logistic_hazard'

),

final as (

    select
        latest_run.model_version,
        case
            when latest_run.method = 'logistic_hazard'
                and exists (select 1 from run_coefficients) then 'logistic_hazard'
            else 'flow_hazard_fallback'
        end as score_method,
        case
            when latest_run.method = 'logistic_hazard'
                and exists (select 1 from run_coefficients) then null
            when latest_run.model_version is null then 'no churn model fitted on or before as_of_date'
            when latest_run.method = 'logistic_hazard' then 'the latest run has no coefficients'
            else coalesce(latest_run.fallback_reason, latest_run.method)
        end as fallback_reason

    from (select 1) as one_row
    left join latest_run on true

)

select * from final
