{{ config(enabled=('colorme' in var('teiki_sources'))) }}

{#- No subscriptions from this source (カラーミーショップ API v1 exposes no 定期購入 contracts, payment attempts, change history, inquiries or web events): an empty model with the canonical columns of
    stg_csv__subscriptions, so that union_staging('subscriptions') works with 'colorme' in teiki_sources. -#}

select
        'colorme' as source,
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
