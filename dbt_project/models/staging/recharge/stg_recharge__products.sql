{{ config(enabled=('recharge' in var('teiki_sources'))) }}

{#- No products from this source (Recharge bills subscriptions; orders, order lines and products come from the shop (Shopify), and Recharge has no inquiries, web events or subscription change history in these streams): an empty model with the canonical columns of
    stg_csv__products, so that union_staging('products') works with 'recharge' in teiki_sources. -#}

select
        'recharge' as source,
        cast(null as varchar) as product_id,
        cast(null as varchar) as product_name,
        cast(null as varchar) as category,
        cast(null as bigint) as price,
        cast(null as bigint) as first_delivery_price,
        cast(null as boolean) as is_subscription,
        cast(null as integer) as cycle_days,
        cast(null as bigint) as unit_cost,
        cast(null as timestamp) as created_at,
        cast(null as timestamp) as updated_at,
        cast(null as timestamp) as loaded_at
where false
