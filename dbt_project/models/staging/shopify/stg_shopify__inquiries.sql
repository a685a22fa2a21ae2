{{ config(enabled=('shopify' in var('teiki_sources'))) }}

-- No rows from Shopify, in the canonical staging shape, so that union_staging('inquiries') works with
-- 'shopify' in teiki_sources. Shopify has no contact/inquiry records; they come from the call-center source.

select
    cast(null as varchar) as source,
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
