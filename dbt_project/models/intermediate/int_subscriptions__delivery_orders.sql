{{ config(materialized='table') }}

{#- Revenue 定期 orders numbered per contract: the n-th is delivery n (the rule of the
    subscriptions mart's delivery_count), with the next order's date and the unit price paid for
    the contract's product. The delivery opportunities of the 解約予兆 snapshots
    (int_subscriptions__churn_snapshots) and the price step-up feature read it. -#}

with

subscriptions as (

    select * from {{ ref('int_subscriptions__as_of') }}

),

orders as (

    select * from {{ ref('int_orders__as_of') }}
    where is_revenue

),

order_lines as (

    select * from {{ ref('int_order_lines__unioned') }}

),

subscription_orders as (

    select
        orders.source,
        orders.subscription_id,
        orders.order_id,
        orders.ordered_date,
        row_number() over (
            partition by orders.source, orders.subscription_id
            order by orders.ordered_at, orders.order_id
        ) as delivery_number,
        lead(orders.ordered_date) over (
            partition by orders.source, orders.subscription_id
            order by orders.ordered_at, orders.order_id
        ) as next_order_date

    from orders
    where orders.subscription_id is not null

),

paid_unit_prices as (

    select
        subscription_orders.source,
        subscription_orders.subscription_id,
        subscription_orders.delivery_number,
        sum(order_lines.line_total) / nullif(sum(order_lines.quantity), 0) as paid_unit_price

    from subscription_orders
    inner join subscriptions
        on subscriptions.source = subscription_orders.source
        and subscriptions.subscription_id = subscription_orders.subscription_id
    inner join order_lines
        on order_lines.source = subscription_orders.source
        and order_lines.order_id = subscription_orders.order_id
        and order_lines.product_id = subscriptions.product_id
    group by all

),

final as (

    select
        subscription_orders.source,
        subscription_orders.subscription_id,
        subscription_orders.order_id,
        subscription_orders.ordered_date,
        subscription_orders.delivery_number,
        subscription_orders.next_order_date,
        paid_unit_prices.paid_unit_price

    from subscription_orders
    left join paid_unit_prices
        on paid_unit_prices.source = subscription_orders.source
        and paid_unit_prices.subscription_id = subscription_orders.subscription_id
        and paid_unit_prices.delivery_number = subscription_orders.delivery_number

)

select * from final
