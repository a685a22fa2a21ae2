{#- cpm_monthly's latest month-end (as_of_date) counts each state exactly as customer_cpm does. -#}
{{ config(meta={'dagster': {'ref': {'name': 'cpm_monthly'}}}) }}
with monthly as (
    select source, cpm_state, sum(customers) as customers
    from {{ ref('cpm_monthly') }}
    where month_end_date = {{ as_of_date() }}
    group by all
),
snapshot as (
    select source, cpm_state, count(*) as customers
    from {{ ref('customer_cpm') }}
    group by all
)
select *
from monthly
full outer join snapshot using (source, cpm_state)
where monthly.customers is distinct from snapshot.customers
