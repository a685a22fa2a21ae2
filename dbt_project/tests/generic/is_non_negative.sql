{#- Counts, amounts and ratios that may exceed 1 (revenue retention) must not be negative. -#}
{% test is_non_negative(model, column_name) %}
select {{ column_name }} as negative_value
from {{ model }}
where {{ column_name }} < 0
{% endtest %}
