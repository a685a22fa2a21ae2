{#- The contract of the feature table with the model fit and the scoring mart: every f_ column is
    a DOUBLE, never NULL, never NaN or infinite (the fit standardizes them; a NULL would drop a
    row from the sum of contributions silently). Lists offending columns, then offending rows. -#}
{%- set features = ref('int_subscriptions__churn_features') -%}
with

column_types as (

    select column_name as feature, 'type ' || data_type as problem, null as subscription_id, null as snapshot_date
    from information_schema.columns
    where table_schema = '{{ features.schema }}'
        and table_name = '{{ features.identifier }}'
        and column_name like 'f\_%' escape '\'
        and data_type <> 'DOUBLE'

),

values_ as (

    select feature, 'value ' || coalesce(cast(value as varchar), 'NULL') as problem, subscription_id, snapshot_date
    from (
        select subscription_id, snapshot_date, columns('^f_')
        from {{ features }}
    ) unpivot include nulls (value for feature in (columns('^f_')))
    where value is null or not isfinite(value)

)

select * from column_types
union all
select * from values_
