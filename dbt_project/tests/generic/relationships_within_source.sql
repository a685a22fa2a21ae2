{#- relationships, matching `source` as well as the id: a customer_id only means something inside
    the source that issued it. Rows whose id is NULL are not checked (use not_null for that). -#}
{% test relationships_within_source(model, column_name, to, field, source_column='source') %}
select
    child.{{ source_column }},
    child.{{ column_name }}
from {{ model }} as child
where child.{{ column_name }} is not null
    and not exists (
        select 1
        from {{ to }} as parent
        where parent.{{ source_column }} = child.{{ source_column }}
            and parent.{{ field }} = child.{{ column_name }}
    )
{% endtest %}
