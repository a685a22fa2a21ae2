{{ config(enabled=('shopify' in var('teiki_sources'))) }}

-- No rows from Shopify, in the canonical staging shape, so that union_staging('subscription_events') works with
-- 'shopify' in teiki_sources. Shopify exposes no subscription change history to this connector; Recharge does.

select
    cast(null as varchar) as source,
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
