{#- Lists cart labels that label_codes does not map (their code is 'unknown'), with counts, so the
    fix is one seed row. Warn only: an unmapped label never widens an outbound audience (it is
    neither 'active' nor 'cancellation_request'), it only hides rows from analysis. -#}
{% test label_is_known(model, column_name, label_column) %}
{{ config(severity='warn') }}
select
    {{ label_column }} as unmapped_label,
    count(*) as n_records
from {{ model }}
where {{ column_name }} = 'unknown'
group by {{ label_column }}
{% endtest %}
