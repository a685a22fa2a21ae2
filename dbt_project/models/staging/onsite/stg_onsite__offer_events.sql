{#- The on-site offer service's events, typed: one row per decision or acceptance. Empty until
    the first events file is loaded (macros/source_or_empty.sql). The source of a customer is
    the first part of window_id (source:subscription_id:delivery_number, as
    onsite_offer_eligibility publishes it): the service itself only sees the shop's customer id. -#}

with

events as (

    {{ source_or_empty('raw_onsite', 'offer_events') }}

),

final as (

    select
        cast(event_id as bigint) as event_id,
        cast(occurred_at as timestamp) as occurred_at,
        cast(business_date as date) as business_date,
        cast(event_type as varchar) as event_type,
        cast(reason as varchar) as reason,
        cast(split_part(window_id, ':', 1) as varchar) as source,
        cast(customer_id as varchar) as customer_id,
        cast(page as varchar) as page,
        cast(offer_id as varchar) as offer_id,
        cast(window_id as varchar) as window_id

    from events

)

select * from final
