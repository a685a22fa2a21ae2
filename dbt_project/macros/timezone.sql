{#- Timestamps are stored as UTC (TIMESTAMP without zone). Business dates are Japanese dates.
    Japan has had no daylight saving time since 1951, so a fixed +9 hours is exact and avoids
    depending on the ICU extension at query time. -#}
{% macro to_jst(utc_ts) -%}
    ({{ utc_ts }} + interval 9 hour)
{%- endmacro %}

{% macro jst_date(utc_ts) -%}
    cast({{ utc_ts }} + interval 9 hour as date)
{%- endmacro %}
