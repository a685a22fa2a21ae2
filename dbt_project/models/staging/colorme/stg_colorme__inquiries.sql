{{ config(enabled=('colorme' in var('teiki_sources'))) }}

{#- No inquiries from this source (カラーミーショップ API v1 exposes no 定期購入 contracts, payment attempts, change history, inquiries or web events): an empty model with the canonical columns of
    stg_csv__inquiries, so that union_staging('inquiries') works with 'colorme' in teiki_sources. -#}

select
        'colorme' as source,
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
