{{ config(enabled=('shopify' in var('teiki_sources'))) }}

-- No rows from Shopify, in the canonical staging shape, so that union_staging('subscriptions') works with
-- 'shopify' in teiki_sources. Shopify's subscription contracts are readable only by the app that created them; the 定期契約 come from the Recharge connector (stg_recharge__subscriptions).

select
    cast(null as varchar) as source,
    cast(null as varchar) as subscription_id,
    cast(null as varchar) as customer_id,
    cast(null as varchar) as product_id,
    cast(null as integer) as quantity,
    cast(null as integer) as cycle_days,
    cast(null as varchar) as status,
    cast(null as varchar) as status_label,
    cast(null as timestamp) as started_at,
    cast(null as timestamp) as cancelled_at,
    cast(null as varchar) as cancel_reason,
    cast(null as date) as next_delivery_date,
    cast(null as integer) as delivery_count,
    cast(null as integer) as skip_count,
    cast(null as timestamp) as updated_at,
    cast(null as timestamp) as loaded_at
where false
