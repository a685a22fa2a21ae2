{{ config(enabled=('recharge' in var('teiki_sources'))) }}

{#- No web_events from this source (Recharge bills subscriptions; orders, order lines and products come from the shop (Shopify), and Recharge has no inquiries, web events or subscription change history in these streams): an empty model with the canonical columns of
    stg_csv__web_events, so that union_staging('web_events') works with 'recharge' in teiki_sources. -#}

select
        'recharge' as source,
        cast(null as varchar) as web_event_id,
        cast(null as varchar) as customer_id,
        cast(null as timestamp) as visited_at,
        cast(null as varchar) as url,
        cast(null as varchar) as url_path,
        cast(null as varchar) as page_type,
        cast(null as varchar) as referrer,
        cast(null as timestamp) as loaded_at
where false
