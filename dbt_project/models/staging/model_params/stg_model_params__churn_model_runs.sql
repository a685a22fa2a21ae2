{#- Every run of the 解約予兆 hazard fit (model_params.churn_model_runs, written by
    orchestration/modeling/churn_hazard.py): which run is in force is decided downstream
    (int_model_runs__churn_scoring_run), because a run may be a fallback or lack coefficients. -#}

select * from {{ source('model_params', 'churn_model_runs') }}
