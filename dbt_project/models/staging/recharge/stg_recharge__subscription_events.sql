{{ config(enabled=('recharge' in var('teiki_sources'))) }}

{#- No subscription_events from this source (Recharge bills subscriptions; orders, order lines and products come from the shop (Shopify), and Recharge has no inquiries, web events or subscription change history in these streams): an empty model with the canonical columns of
    stg_csv__subscription_events, so that union_staging('subscription_events') works with 'recharge' in teiki_sources. -#}

select
        'recharge' as source,
        cast(null as varchar) as subscription_event_id,
        cast(null as varchar) as subscription_id,
        cast(null as timestamp) as occurred_at,
        cast(null as varchar) as event_type,
        cast(null as varchar) as event_type_label,
        cast(null as varchar) as before_value,
        cast(null as varchar) as after_value,
        cast(null as varchar) as reason,
        cast(null as varchar) as channel,
        cast(null as varchar) as channel_label,
        cast(null as timestamp) as loaded_at
where false
