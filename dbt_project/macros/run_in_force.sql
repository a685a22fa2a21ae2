{#- The run of a fitted-model table in force: every row of the latest as_of_date on or before the
    business date (a backfill never uses a later fit). The params writer keeps every run, one per
    as_of_date (orchestration/modeling/params_writer.py), so each table's staging model selects
    its run in force with this one rule. -#}
{% macro run_in_force(relation) -%}
with

runs as (

    select * from {{ relation }}

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
{%- endmacro %}
