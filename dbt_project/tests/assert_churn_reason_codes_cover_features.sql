{#- Every feature of the churn model can be explained to an agent: each f_ column of
    int_subscriptions__churn_features has its row (reason code, labels, suggested action) in seed
    churn_reason_codes. Lists the features that have none. -#}
{{ config(meta={'dagster': {'ref': {'name': 'int_subscriptions__churn_features'}}}) }}
{%- set features = ref('int_subscriptions__churn_features') -%}
select column_name as feature_without_reason_code
from information_schema.columns
where table_schema = '{{ features.schema }}'
    and table_name = '{{ features.identifier }}'
    and column_name like 'f\_%' escape '\'
    and column_name not in (select feature from {{ ref('churn_reason_codes') }})
