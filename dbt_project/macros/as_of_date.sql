{#- The business date everything is measured at: var as_of_date (YYYY-MM-DD) or, when empty,
    today's date in Japan. Returns a SQL DATE expression. -#}
{% macro as_of_date() -%}
    {%- set v = var('as_of_date') | string | trim -%}
    {%- if v == '' or v == 'None' -%}
        {{ today_in_japan() }}
    {%- else -%}
        date '{{ v }}'
    {%- endif -%}
{%- endmacro %}

{#- Today's date in Japan, whatever as_of_date says. -#}
{% macro today_in_japan() -%}
    cast(current_timestamp at time zone 'Asia/Tokyo' as date)
{%- endmacro %}

{#- The latest date a recorded event (an order, a sign-up, a payment, a visit) may carry: the later
    of as_of_date and today in Japan, plus future_date_tolerance_days. Today, not as_of_date
    alone, because a backfill at an earlier as_of_date legitimately holds records after it; the
    later of the two because a pinned as_of_date ahead of the clock (a demo) is "now" too. -#}
{% macro latest_plausible_date() -%}
    (greatest({{ as_of_date() }}, {{ today_in_japan() }}) + {{ var('future_date_tolerance_days') | int }})
{%- endmacro %}
