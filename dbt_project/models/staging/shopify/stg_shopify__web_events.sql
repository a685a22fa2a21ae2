{{ config(enabled=('shopify' in var('teiki_sources'))) }}

-- No rows from Shopify, in the canonical staging shape, so that union_staging('web_events') works with
-- 'shopify' in teiki_sources. Shopify's Admin API has no page-visit events.

select
    cast(null as varchar) as source,
    cast(null as varchar) as web_event_id,
    cast(null as varchar) as customer_id,
    cast(null as timestamp) as visited_at,
    cast(null as varchar) as url,
    cast(null as varchar) as url_path,
    cast(null as varchar) as page_type,
    cast(null as varchar) as referrer,
    cast(null as timestamp) as loaded_at
where false
