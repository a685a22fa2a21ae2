{{ config(enabled=('csv' in teiki_sources())) }}

with

raw_subscriptions as (

    select * from {{ source('raw_csv', 'subscriptions') }}
    -- live rows only: a full-snapshot export that no longer holds a record marks it deleted
    where _deleted_at is null

),

renamed as (

    select
        _source as source,
        subscription_id,
        customer_id,
        product_id,
        cast(quantity as integer) as quantity,
        cast(cycle_days as integer) as cycle_days,
        {{ label_code('subscription_status', 'raw_subscriptions.status') }} as status,
        status as status_label,
        cast(started_at as timestamp) as started_at,
        cast(cancelled_at as timestamp) as cancelled_at,
        cancel_reason,
        cast(next_delivery_date as date) as next_delivery_date,
        cast(delivery_count as integer) as delivery_count,
        cast(skip_count as integer) as skip_count,
        cast(updated_at as timestamp) as updated_at,
        _loaded_at as loaded_at

    from raw_subscriptions

)

select * from renamed
