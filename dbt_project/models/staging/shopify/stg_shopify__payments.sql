{{ config(enabled=('shopify' in var('teiki_sources'))) }}

-- No rows from Shopify, in the canonical staging shape, so that union_staging('payments') works with
-- 'shopify' in teiki_sources. Payment attempts are not fetched from Shopify (order transactions are a later addition); Recharge charges carry payment failures.

select
    cast(null as varchar) as source,
    cast(null as varchar) as payment_id,
    cast(null as varchar) as order_id,
    cast(null as varchar) as customer_id,
    cast(null as varchar) as payment_method,
    cast(null as varchar) as payment_method_label,
    cast(null as timestamp) as attempted_at,
    cast(null as bigint) as amount,
    cast(null as varchar) as result,
    cast(null as varchar) as result_label,
    cast(null as varchar) as failure_reason,
    cast(null as varchar) as failure_reason_label,
    cast(null as timestamp) as loaded_at
where false
