{#- One row per first-purchase cohort month and months since the first order (0 = the cohort
    month): the share of the cohort with a revenue order in that month (retention) and that
    month's revenue against the cohort's first-month revenue (revenue retention). Counted from
    customer_cohorts so the two marts cannot disagree. -#}

with

customer_cohorts as (

    select * from {{ ref('customer_cohorts') }}

),

grouped as (

    select
        source,
        cohort_month,
        months_since_first_order,
        any_value(activity_month) as activity_month,
        bool_or(is_partial_month) as is_partial_month,
        count(*) as cohort_customers,
        count(*) filter (where is_active_in_month) as active_customers,
        sum(orders_in_month) as orders_in_month,
        sum(revenue_in_month) as revenue_in_month,
        sum(cumulative_revenue) as cumulative_revenue

    from customer_cohorts
    group by source, cohort_month, months_since_first_order

),

with_base as (

    select
        *,
        first_value(revenue_in_month) over (
            partition by source, cohort_month order by months_since_first_order
        ) as first_month_revenue

    from grouped

),

final as (

    select
        source,
        cohort_month,
        months_since_first_order,
        activity_month,
        cast(cohort_customers as integer) as cohort_customers,
        cast(active_customers as integer) as active_customers,
        cast(active_customers / cohort_customers as double) as retention_rate,
        cast(orders_in_month as integer) as orders_in_month,
        cast(revenue_in_month as bigint) as revenue_in_month,
        cast(first_month_revenue as bigint) as first_month_revenue,
        cast(revenue_in_month / nullif(first_month_revenue, 0) as double) as revenue_retention,
        cast(cumulative_revenue as bigint) as cumulative_revenue,
        cast(cumulative_revenue / cohort_customers as double) as cumulative_revenue_per_customer,
        is_partial_month,
        {{ as_of_date() }} as as_of_date

    from with_base

)

select * from final
