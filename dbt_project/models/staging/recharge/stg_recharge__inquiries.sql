{{ config(enabled=('recharge' in var('teiki_sources'))) }}

{#- No inquiries from this source (Recharge bills subscriptions; orders, order lines and products come from the shop (Shopify), and Recharge has no inquiries, web events or subscription change history in these streams): an empty model with the canonical columns of
    stg_csv__inquiries, so that union_staging('inquiries') works with 'recharge' in teiki_sources. -#}

select
        'recharge' as source,
        cast(null as varchar) as inquiry_id,
        cast(null as varchar) as customer_id,
        cast(null as timestamp) as created_at,
        cast(null as varchar) as channel,
        cast(null as varchar) as channel_label,
        cast(null as varchar) as category,
        cast(null as varchar) as category_label,
        cast(null as varchar) as agent,
        cast(null as varchar) as outcome,
        cast(null as varchar) as outcome_label,
        cast(null as timestamp) as loaded_at
where false
