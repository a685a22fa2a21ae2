{{ config(enabled=('colorme' in var('teiki_sources'))) }}

{#- No web_events from this source (カラーミーショップ API v1 exposes no 定期購入 contracts, payment attempts, change history, inquiries or web events): an empty model with the canonical columns of
    stg_csv__web_events, so that union_staging('web_events') works with 'colorme' in teiki_sources. -#}

select
        'colorme' as source,
        cast(null as varchar) as web_event_id,
        cast(null as varchar) as customer_id,
        cast(null as timestamp) as visited_at,
        cast(null as varchar) as url,
        cast(null as varchar) as url_path,
        cast(null as varchar) as page_type,
        cast(null as varchar) as referrer,
        cast(null as timestamp) as loaded_at
where false
