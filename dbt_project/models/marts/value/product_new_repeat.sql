{#- One row per source, product and calendar month (JST) in which the product was bought in a
    revenue order: customers and revenue split into new (the customer's first ever purchase of
    that product) and repeat (bought it before). -#}

with

purchases as (

    select * from {{ ref('int_customers__purchase_history') }}
    where product_id is not null

),

products as (

    select * from {{ ref('int_products__unioned') }}

),

first_purchase_of_product as (

    select
        customer_key,
        source,
        product_id,
        min(customer_order_number) as first_order_number

    from purchases
    group by all

),

lines as (

    select
        purchases.*,
        cast(date_trunc('month', purchases.ordered_date) as date) as month,
        purchases.customer_order_number = first_purchase_of_product.first_order_number as is_new

    from purchases
    inner join first_purchase_of_product
        on first_purchase_of_product.customer_key = purchases.customer_key
        and first_purchase_of_product.source = purchases.source
        and first_purchase_of_product.product_id = purchases.product_id

),

monthly as (

    select
        source,
        product_id,
        month,
        count(distinct customer_key) as customers,
        count(distinct customer_key) filter (where is_new) as new_customers,
        count(distinct customer_key) filter (where is_new and customer_order_number = 1)
            as first_order_customers,
        count(distinct order_id) as orders,
        sum(quantity) as units,
        sum(line_total) as revenue,
        coalesce(sum(line_total) filter (where is_new), 0) as new_revenue,
        coalesce(sum(line_total) filter (where not is_new), 0) as repeat_revenue

    from lines
    group by all

),

final as (

    select
        monthly.source,
        monthly.product_id,
        products.product_name,
        products.is_subscription as is_subscription_product,
        monthly.month,
        cast(monthly.customers as integer) as customers,
        cast(monthly.new_customers as integer) as new_customers,
        cast(monthly.customers - monthly.new_customers as integer) as repeat_customers,
        cast(monthly.first_order_customers as integer) as first_order_customers,
        cast(monthly.orders as integer) as orders,
        cast(monthly.units as integer) as units,
        cast(monthly.revenue as bigint) as revenue,
        cast(monthly.new_revenue as bigint) as new_revenue,
        cast(monthly.repeat_revenue as bigint) as repeat_revenue,
        monthly.new_customers / monthly.customers as new_customer_share,
        {{ as_of_date() }} as as_of_date

    from monthly
    left join products
        on products.source = monthly.source
        and products.product_id = monthly.product_id

)

select * from final
