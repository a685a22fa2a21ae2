{#- One row per customer and calendar month (JST) from the month of the first revenue order to
    the month of as_of_date: that month's revenue orders and revenue, and the running totals.
    Months without orders are present (zeros), so retention is a plain filter. -#}

with

orders as (

    select * from {{ ref('orders') }}
    where is_revenue

),

buyers as (

    select
        customer_key,
        arg_min(source, customer_order_number) as source,
        cast(date_trunc('month', min(ordered_date)) as date) as cohort_month

    from orders
    group by customer_key

),

monthly_orders as (

    select
        customer_key,
        cast(date_trunc('month', ordered_date) as date) as activity_month,
        count(*) as orders_in_month,
        sum(revenue) as revenue_in_month

    from orders
    group by all

),

customer_months as (

    select
        buyers.customer_key,
        buyers.source,
        buyers.cohort_month,
        cast(months.activity_month as date) as activity_month

    from buyers
    cross join lateral (
        select unnest(generate_series(
            buyers.cohort_month, cast(date_trunc('month', {{ as_of_date() }}) as date), interval 1 month
        )) as activity_month
    ) as months

),

final as (

    select
        customer_months.customer_key,
        customer_months.source,
        customer_months.cohort_month,
        customer_months.activity_month,
        cast(date_diff('month', customer_months.cohort_month, customer_months.activity_month) as integer)
            as months_since_first_order,
        cast(coalesce(monthly_orders.orders_in_month, 0) as integer) as orders_in_month,
        cast(coalesce(monthly_orders.revenue_in_month, 0) as bigint) as revenue_in_month,
        coalesce(monthly_orders.orders_in_month, 0) > 0 as is_active_in_month,
        cast(sum(coalesce(monthly_orders.orders_in_month, 0)) over (
            partition by customer_months.customer_key order by customer_months.activity_month
        ) as integer) as cumulative_orders,
        cast(sum(coalesce(monthly_orders.revenue_in_month, 0)) over (
            partition by customer_months.customer_key order by customer_months.activity_month
        ) as bigint) as cumulative_revenue,
        customer_months.activity_month = cast(date_trunc('month', {{ as_of_date() }}) as date) as is_partial_month,
        {{ as_of_date() }} as as_of_date

    from customer_months
    left join monthly_orders
        on monthly_orders.customer_key = customer_months.customer_key
        and monthly_orders.activity_month = customer_months.activity_month

)

select * from final
