{#- One row per revenue order line of a resolved customer (customer_key), ordered on or before
    as_of_date, with the customer's order sequence and first order facts: the shared base of
    the value marts (RFM, CPM, LTV, product flows), so "a purchase" is defined once. -#}

with

orders as (

    select * from {{ ref('int_orders__as_of') }}
    where is_revenue

),

order_lines as (

    select * from {{ ref('int_order_lines__unioned') }}

),

products as (

    select * from {{ ref('int_products__unioned') }}

),

first_orders as (

    select
        customer_key,
        source as first_order_source,
        ordered_at as first_ordered_at,
        ordered_date as first_order_date,
        subscription_id is not null as first_order_is_subscription

    from orders
    where customer_order_number = 1

),

final as (

    select
        orders.customer_key,
        orders.source,
        orders.order_id,
        orders.ordered_at,
        orders.ordered_date,
        orders.customer_order_number,
        orders.subscription_id,
        orders.subscription_id is not null as is_subscription_order,
        orders.revenue as order_revenue,
        order_lines.line_number,
        order_lines.product_id,
        products.is_subscription as is_subscription_product,
        cast(order_lines.quantity as integer) as quantity,
        cast(order_lines.line_total as bigint) as line_total,
        cast(products.unit_cost as bigint) as unit_cost,
        first_orders.first_order_source,
        first_orders.first_ordered_at,
        first_orders.first_order_date,
        first_orders.first_order_is_subscription

    from orders
    inner join first_orders
        on first_orders.customer_key = orders.customer_key
    left join order_lines
        on order_lines.source = orders.source
        and order_lines.order_id = orders.order_id
    left join products
        on products.source = order_lines.source
        and products.product_id = order_lines.product_id

)

select * from final
