{#- A share must lie between 0 and 1 (NULL allowed: an empty denominator). -#}
{% test is_ratio(model, column_name) %}
select {{ column_name }} as bad_ratio
from {{ model }}
where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}
