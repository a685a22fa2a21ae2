{#- One row per source and product path (product of the 1st, 2nd and 3rd revenue order,
    '(none)' where the customer has no such order by as_of_date): customers who followed the
    path, with, per first product, the 通常 -> 定期 引き上げ rate (one-off first purchasers who
    later placed a 定期 order). An order's product is its first line's product. -#}

with

purchases as (

    select * from {{ ref('int_customers__purchase_history') }}

),

order_products as (

    select
        customer_key,
        customer_order_number,
        arg_min(product_id, line_number) as product_id

    from purchases
    where customer_order_number <= 3
    group by all

),

customer_flags as (

    select
        customer_key,
        any_value(first_order_source) as source,
        bool_or(first_order_is_subscription) as first_order_is_subscription,
        coalesce(bool_or(is_subscription_order and customer_order_number > 1), false)
            as has_later_subscription_order

    from purchases
    group by customer_key

),

paths as (

    select
        customer_flags.customer_key,
        customer_flags.source,
        customer_flags.first_order_is_subscription,
        not customer_flags.first_order_is_subscription and customer_flags.has_later_subscription_order
            as is_upgraded,
        coalesce(first_order.product_id, '(none)') as first_product_id,
        coalesce(second_order.product_id, '(none)') as second_product_id,
        coalesce(third_order.product_id, '(none)') as third_product_id

    from customer_flags
    left join order_products as first_order
        on first_order.customer_key = customer_flags.customer_key
        and first_order.customer_order_number = 1
    left join order_products as second_order
        on second_order.customer_key = customer_flags.customer_key
        and second_order.customer_order_number = 2
    left join order_products as third_order
        on third_order.customer_key = customer_flags.customer_key
        and third_order.customer_order_number = 3

),

grouped as (

    select
        source,
        first_product_id,
        second_product_id,
        third_product_id,
        count(*) as customers

    from paths
    group by all

),

per_first_product as (

    select
        source,
        first_product_id,
        count(*) as first_product_customers,
        count(*) filter (where not first_order_is_subscription) as one_off_first_customers,
        count(*) filter (where is_upgraded) as upgraded_customers

    from paths
    group by all

),

final as (

    select
        grouped.source,
        grouped.first_product_id,
        grouped.second_product_id,
        grouped.third_product_id,
        cast(grouped.customers as integer) as customers,
        cast(per_first_product.first_product_customers as integer) as first_product_customers,
        grouped.customers / per_first_product.first_product_customers as path_share,
        cast(per_first_product.one_off_first_customers as integer) as one_off_first_customers,
        cast(per_first_product.upgraded_customers as integer) as upgraded_customers,
        per_first_product.upgraded_customers / nullif(per_first_product.one_off_first_customers, 0)
            as upgrade_rate,
        {{ as_of_date() }} as as_of_date

    from grouped
    inner join per_first_product
        on per_first_product.source = grouped.source
        and per_first_product.first_product_id = grouped.first_product_id

)

select * from final
