{#- Schemas are named exactly as configured (staging, intermediate, marts), not
    <target>_<schema>: BI users and the action layer address `marts.<table>` directly. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
