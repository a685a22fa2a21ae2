{#- A record dated after latest_plausible_date() (the later of as_of_date and today in Japan, plus
    future_date_tolerance_days) cannot have happened yet: a wrong clock or time zone in the
    export, or a typo. The as-of models leave records after as_of_date out, so that a backfill
    does not see the future; without this test such a record would vanish from the marts with
    nobody told. Lists the record's row_keys (no personal values), which the Dagster check shows
    in its metadata (orchestration/transform/failing_rows.py). -#}
{% test is_not_in_future(model, date_column, row_keys) %}
{{ config(meta={'failing_row_keys': row_keys}) }}
select
    {% for key in row_keys %}{{ key }}, {% endfor %}{{ date_column }} as future_date
from {{ model }}
where {{ date_column }} > {{ latest_plausible_date() }}
{% endtest %}
