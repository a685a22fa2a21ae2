{#- The business date everything is measured at: var as_of_date (YYYY-MM-DD) or, when empty,
    today's date in Japan. Returns a SQL DATE expression. -#}
{% macro as_of_date() -%}
    {%- set v = var('as_of_date') | string | trim -%}
    {%- if v == '' or v == 'None' -%}
        cast(current_timestamp at time zone 'Asia/Tokyo' as date)
    {%- else -%}
        date '{{ v }}'
    {%- endif -%}
{%- endmacro %}
