{{ config(enabled=('recharge' in var('teiki_sources'))) }}

{#- No orders from this source (Recharge bills subscriptions; orders, order lines and products come from the shop (Shopify), and Recharge has no inquiries, web events or subscription change history in these streams): an empty model with the canonical columns of
    stg_csv__orders, so that union_staging('orders') works with 'recharge' in teiki_sources. -#}

select
        'recharge' as source,
        cast(null as varchar) as order_id,
        cast(null as varchar) as customer_id,
        cast(null as varchar) as subscription_id,
        cast(null as integer) as delivery_number,
        cast(null as timestamp) as ordered_at,
        cast(null as varchar) as status,
        cast(null as varchar) as status_label,
        cast(null as varchar) as payment_method,
        cast(null as varchar) as payment_method_label,
        cast(null as bigint) as subtotal,
        cast(null as bigint) as shipping_fee,
        cast(null as bigint) as discount,
        cast(null as bigint) as total,
        cast(null as date) as shipped_on,
        cast(null as timestamp) as updated_at,
        cast(null as timestamp) as loaded_at
where false
