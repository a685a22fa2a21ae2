{#- The run of model_params.repeat_buyer_predictions in force: the latest as_of_date on or before the business
    date (a backfill never uses a later fit). The table keeps every run, one per as_of_date
    (orchestration/modeling/params_writer.py); marts read this model, never the source. -#}

with

runs as (

    select * from {{ source('model_params', 'repeat_buyer_predictions') }}

),

latest_run as (

    select max(as_of_date) as as_of_date
    from runs
    where as_of_date <= {{ as_of_date() }}

)

select runs.*
from runs
inner join latest_run
    on latest_run.as_of_date = runs.as_of_date
