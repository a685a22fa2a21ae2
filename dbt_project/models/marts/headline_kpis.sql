{#- The morning's headline figures, one row. Each figure is defined once in the mart it comes
    from (customers, orders, subscriptions); this model only counts. F2 and churn are cohort
    rates with their windows in vars, so "this month's" figure cannot be diluted by customers
    who have not had time to re-order or by contracts that started inside the window. -#}

{%- set f2_days = var('f2_window_days') | int -%}
{%- set churn_days = var('churn_window_days') | int -%}

with

customers as (

    select * from {{ ref('customers') }}

),

orders as (

    select * from {{ ref('orders') }}

),

subscriptions as (

    select * from {{ ref('subscriptions') }}

),

cancel_signal_subscribers as (

    select * from {{ ref('cancel_signal_subscribers') }}

),

customer_counts as (

    select
        count(*) as customers,
        count(*) filter (where is_subscriber) as subscribers

    from customers

),

first_and_second_orders as (

    select
        customer_key,
        min(ordered_date) filter (where customer_order_number = 1) as first_order_date,
        min(ordered_date) filter (where customer_order_number = 2) as second_order_date

    from orders
    where customer_order_number in (1, 2)
    group by customer_key

),

f2 as (

    select
        count(*) as f2_base_customers,
        count(*) filter (
            where second_order_date <= first_order_date + {{ f2_days }}
        ) as f2_converted_customers

    from first_and_second_orders
    where first_order_date <= {{ as_of_date() }} - {{ f2_days }}

),

subscription_counts as (

    select
        count(*) filter (where status = 'active') as active_subscriptions,
        count(*) filter (where status = 'paused') as paused_subscriptions,
        -- Alive at the end of the window's eve: started by then, not cancelled by then.
        count(*) filter (
            where started_date <= {{ as_of_date() }} - {{ churn_days }}
                and (cancelled_date is null or cancelled_date > {{ as_of_date() }} - {{ churn_days }})
        ) as churn_base_subscriptions,
        count(*) filter (
            where started_date <= {{ as_of_date() }} - {{ churn_days }}
                and cancelled_date > {{ as_of_date() }} - {{ churn_days }}
                and cancelled_date <= {{ as_of_date() }}
        ) as churned_subscriptions

    from subscriptions

),

revenue as (

    select
        sum(revenue) filter (
            where ordered_date > {{ as_of_date() }} - {{ churn_days }}
        ) as revenue_last_window

    from orders

),

final as (

    select
        {{ as_of_date() }} as as_of_date,
        cast(customer_counts.customers as integer) as customers,
        cast(customer_counts.subscribers as integer) as subscribers,
        cast(subscription_counts.active_subscriptions as integer) as active_subscriptions,
        cast(subscription_counts.paused_subscriptions as integer) as paused_subscriptions,
        cast(f2.f2_base_customers as integer) as f2_base_customers,
        cast(f2.f2_converted_customers as integer) as f2_converted_customers,
        cast(f2.f2_converted_customers / nullif(f2.f2_base_customers, 0) as double) as f2_rate,
        cast(subscription_counts.churn_base_subscriptions as integer) as churn_base_subscriptions,
        cast(subscription_counts.churned_subscriptions as integer) as churned_subscriptions,
        cast(
            subscription_counts.churned_subscriptions / nullif(subscription_counts.churn_base_subscriptions, 0)
            as double
        ) as monthly_churn_rate,
        cast(coalesce(revenue.revenue_last_window, 0) as bigint) as window_revenue,
        cast((select count(*) from cancel_signal_subscribers) as integer) as cancel_signal_subscribers

    from customer_counts
    cross join f2
    cross join subscription_counts
    cross join revenue

)

select * from final
