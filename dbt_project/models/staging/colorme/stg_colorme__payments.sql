{{ config(enabled=('colorme' in var('teiki_sources'))) }}

{#- No payments from this source (カラーミーショップ API v1 exposes no 定期購入 contracts, payment attempts, change history, inquiries or web events): an empty model with the canonical columns of
    stg_csv__payments, so that union_staging('payments') works with 'colorme' in teiki_sources. -#}

select
        'colorme' as source,
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
