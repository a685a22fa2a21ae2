{{ config(enabled=('recharge' in var('teiki_sources'))) }}

{#- No order_lines from this source (Recharge bills subscriptions; orders, order lines and products come from the shop (Shopify), and Recharge has no inquiries, web events or subscription change history in these streams): an empty model with the canonical columns of
    stg_csv__order_lines, so that union_staging('order_lines') works with 'recharge' in teiki_sources. -#}

select
        'recharge' as source,
        cast(null as varchar) as order_id,
        cast(null as integer) as line_number,
        cast(null as varchar) as product_id,
        cast(null as integer) as quantity,
        cast(null as bigint) as unit_price,
        cast(null as bigint) as discount,
        cast(null as bigint) as line_total,
        cast(null as timestamp) as updated_at,
        cast(null as timestamp) as loaded_at
where false
