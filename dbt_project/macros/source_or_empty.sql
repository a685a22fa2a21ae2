{#- A source table Teiki itself writes *after* the models run (the action ledger, written by the
    campaign assets downstream of the audience marts), so a fresh warehouse has no such table yet:
    `select *` from it when it exists, else an empty relation of the columns and data_types its
    source YAML declares. The declaration is the one list of columns (a Python test holds it equal
    to the writer's DDL), so the empty relation has the real shape and every model downstream
    builds unchanged, with zero rows, on the first day.

    Why not create the table from Python before dbt runs (ledger.ensure_ledger): dbt is run from
    the Dagster asset, from `make`, from the tests and by hand, and every one of them would have
    to remember it; DDL from a read path would also need a write connection. Why not an
    on-run-start hook: it would repeat ledger.py's DDL in a second place. -#}
{% macro source_or_empty(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and load_relation(relation) is none -%}
        {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
        select
        {%- for column in node.columns.values() %}
            cast(null as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
        {%- endfor %}
        where false
    {%- else -%}
        select * from {{ relation }}
    {%- endif -%}
{%- endmacro %}
