{#- relationships, matching `source` as well as the id: a customer_id only means something inside
    the source that issued it. Rows whose id is NULL are not checked (use not_null for that).
    Given row_keys (columns of the child naming the record, e.g. [source, order_id]), they are
    listed with each orphan, and the Dagster check shows them in its metadata
    (orchestration/transform/failing_rows.py). -#}
{% test relationships_within_source(model, column_name, to, field, source_column='source', row_keys=none) %}
{%- if row_keys %}{{ config(meta={'failing_row_keys': row_keys}) }}{% endif %}
{%- set listed = [] -%}
{%- for column in (row_keys or []) + [source_column, column_name] -%}
    {%- if column not in listed %}{% do listed.append(column) %}{% endif -%}
{%- endfor %}
select
    {% for column in listed %}child.{{ column }}{{ "," if not loop.last }}
    {% endfor %}
from {{ model }} as child
where child.{{ column_name }} is not null
    and not exists (
        select 1
        from {{ to }} as parent
        where parent.{{ source_column }} = child.{{ source_column }}
            and parent.{{ field }} = child.{{ column_name }}
    )
{% endtest %}
