{#- The coefficients of every 解約予兆 hazard fit (model_params.churn_model_coefficients), one
    row per run and feature; read with the run in force (int_model_runs__churn_scoring_run). -#}

select * from {{ source('model_params', 'churn_model_coefficients') }}
