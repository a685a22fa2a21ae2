{#- The discount rate per delivery of a 定期 product, one rule for every value that is discounted
    per delivery (ltv_projected's DEL / DERL, churn_risk_scores' expected remaining value): var
    ltv_discount_rate_per_delivery when set, else the annual rate ltv_annual_discount_rate over
    one cycle, (1 + annual) ^ (cycle_days / 365) - 1. A cycle of 0 or unknown days is not a
    cycle: it counts as 30 days. Returns a SQL DOUBLE expression of cycle_days_expr. -#}
{% macro per_delivery_discount_rate(cycle_days_expr) -%}
    {%- set rate_var = var('ltv_discount_rate_per_delivery') | string | trim -%}
    {%- if rate_var in ('', 'None') -%}
        (power(1 + {{ var('ltv_annual_discount_rate') }}, coalesce(nullif({{ cycle_days_expr }}, 0), 30) / 365.0) - 1)
    {%- else -%}
        cast({{ rate_var }} as double)
    {%- endif -%}
{%- endmacro %}
