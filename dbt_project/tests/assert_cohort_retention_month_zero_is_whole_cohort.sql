{#- cohort_retention: every customer buys in the cohort month (that is what defines it), so
    retention at months_since_first_order = 0 is 1 and cohort sizes never change with the month. -#}
with

checked as (

    select
        *,
        first_value(cohort_customers) over (
            partition by source, cohort_month order by months_since_first_order
        ) as month_zero_customers

    from {{ ref('cohort_retention') }}

)

select *
from checked
where (months_since_first_order = 0 and active_customers <> cohort_customers)
    or cohort_customers <> month_zero_customers
