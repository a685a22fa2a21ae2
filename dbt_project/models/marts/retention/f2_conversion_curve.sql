{#- F2 elapsed-days curve: per first-purchase cohort month and d = 30, 60, ... f2_curve_max_days,
    the share of the cohort's buyers whose 2nd revenue order came within d days of the first.
    Only buyers whose first order is at least d days old count at d, so no point of the curve is
    diluted by buyers who have not had d days yet. -#}

{%- set step_days = var('f2_curve_step_days') | int -%}
{%- set max_days = var('f2_curve_max_days') | int -%}

with

orders as (

    select * from {{ ref('orders') }}
    where is_revenue and customer_order_number <= 2

),

buyers as (

    select
        customer_key,
        arg_min(source, customer_order_number) as source,
        min(ordered_date) filter (where customer_order_number = 1) as first_order_date,
        min(ordered_date) filter (where customer_order_number = 2) as second_order_date

    from orders
    group by customer_key

),

elapsed as (

    select cast(range as integer) as elapsed_days
    from range({{ step_days }}, {{ max_days }} + 1, {{ step_days }})

),

cohort_sizes as (

    select
        source,
        cast(date_trunc('month', first_order_date) as date) as cohort_month,
        count(*) as cohort_customers

    from buyers
    group by all

),

curve as (

    select
        buyers.source,
        cast(date_trunc('month', buyers.first_order_date) as date) as cohort_month,
        elapsed.elapsed_days,
        count(*) as eligible_customers,
        count(*) filter (
            where buyers.second_order_date <= buyers.first_order_date + elapsed.elapsed_days
        ) as converted_customers

    from buyers
    inner join elapsed
        on buyers.first_order_date + elapsed.elapsed_days <= {{ as_of_date() }}
    group by all

),

final as (

    select
        curve.source,
        curve.cohort_month,
        curve.elapsed_days,
        cast(cohort_sizes.cohort_customers as integer) as cohort_customers,
        cast(curve.eligible_customers as integer) as eligible_customers,
        cast(curve.converted_customers as integer) as converted_customers,
        cast(curve.converted_customers / curve.eligible_customers as double) as conversion_rate,
        curve.eligible_customers = cohort_sizes.cohort_customers as is_complete_cohort,
        {{ as_of_date() }} as as_of_date

    from curve
    inner join cohort_sizes
        on cohort_sizes.source = curve.source
        and cohort_sizes.cohort_month = curve.cohort_month

)

select * from final
