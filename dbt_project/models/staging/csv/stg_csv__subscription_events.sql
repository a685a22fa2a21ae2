{{ config(enabled=('csv' in teiki_sources())) }}

with

raw_subscription_events as (

    select * from {{ source('raw_csv', 'subscription_events') }}
    -- live rows only: a full-snapshot export that no longer holds a record marks it deleted
    where _deleted_at is null

),

renamed as (

    select
        _source as source,
        event_id as subscription_event_id,
        subscription_id,
        cast(occurred_at as timestamp) as occurred_at,
        {{ label_code('subscription_event_type', 'raw_subscription_events.event_type') }} as event_type,
        event_type as event_type_label,
        before_value,
        after_value,
        reason,
        {{ label_code('subscription_event_channel', 'raw_subscription_events.operator') }} as channel,
        operator as channel_label,
        _loaded_at as loaded_at

    from raw_subscription_events

)

select * from renamed
