{#- Lists cart labels that label_codes does not map (their code is 'unknown'), with counts, so the
    fix is one seed row. Warn by default: on history an unmapped label only hides rows from
    analysis. Given row_keys, it lists the records instead (their keys and label, for the Dagster
    check's metadata: orchestration/transform/failing_rows.py); that form is used at error
    severity on live records, where an unknown status silently drops a live 定期契約 from the
    risk scores, the call list and the KPIs. -#}
{% test label_is_known(model, column_name, label_column, row_keys=none) %}
{{ config(severity='warn') }}
{%- if row_keys %}
{{ config(meta={'failing_row_keys': row_keys}) }}
select
    {% for key in row_keys %}{{ key }}, {% endfor %}{{ label_column }} as unmapped_label
from {{ model }}
where {{ column_name }} = 'unknown'
{%- else %}
select
    {{ label_column }} as unmapped_label,
    count(*) as n_records
from {{ model }}
where {{ column_name }} = 'unknown'
group by {{ label_column }}
{%- endif %}
{% endtest %}
