{#- Canonical entity rows from every connected source: the union of stg_<source>__<entity> for
    each source listed in the var `teiki_sources`. Adding a cart means writing its staging models
    in the canonical shape and adding its name to that list; no intermediate model changes.
    BY NAME tolerates a source that lacks an optional column (it reads as NULL). -#}
{% macro union_staging(entity) -%}
    {%- for source_name in var('teiki_sources') %}
    select * from {{ ref('stg_' ~ source_name ~ '__' ~ entity) }}
    {%- if not loop.last %}
    union all by name
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
