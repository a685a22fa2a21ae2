{#- The standard normal CDF, Phi(x) = (1 + erf(x / sqrt 2)) / 2, which DuckDB lacks. erf by
    Abramowitz & Stegun 7.1.26 (max absolute error 1.5e-7, so Phi is within 7.5e-8):
    erf(u) = 1 - (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) exp(-u^2), t = 1 / (1 + p u), u >= 0,
    odd in u. Checked against tabulated values by tests/assert_normal_cdf_matches_tables.sql. -#}
{% macro normal_cdf(x) -%}
    (0.5 * (1 + sign({{ x }}) * (1 - (
        ((((1.061405429 * (1 / (1 + 0.3275911 * abs({{ x }}) / sqrt(2)))
            - 1.453152027) * (1 / (1 + 0.3275911 * abs({{ x }}) / sqrt(2)))
            + 1.421413741) * (1 / (1 + 0.3275911 * abs({{ x }}) / sqrt(2)))
            - 0.284496736) * (1 / (1 + 0.3275911 * abs({{ x }}) / sqrt(2)))
            + 0.254829592) * (1 / (1 + 0.3275911 * abs({{ x }}) / sqrt(2)))
    ) * exp(-({{ x }}) * ({{ x }}) / 2))))
{%- endmacro %}
