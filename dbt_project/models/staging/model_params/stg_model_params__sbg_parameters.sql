{#- The run of model_params.sbg_parameters in force: the latest as_of_date on or before the business
    date (a backfill never uses a later fit). The table keeps every run, one per as_of_date
    (orchestration/modeling/params_writer.py); marts read this model, never the source. -#}

{{ run_in_force(source('model_params', 'sbg_parameters')) }}
