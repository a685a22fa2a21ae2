{#- Within one group, customers old enough for a longer horizon are a subset of those old
    enough for a shorter one: the customer count never grows with the horizon. -#}
select *
from (
    select
        *,
        lag(customers) over (
            partition by source, cohort_month, first_product_id, acquisition_channel order by horizon_days
        ) as shorter_horizon_customers
    from {{ ref('ltv') }}
)
where customers > shorter_horizon_customers
