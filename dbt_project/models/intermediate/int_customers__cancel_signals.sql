{#- Every cancel-intent signal ever seen, attributed to a resolved customer: a visit to the
    定期 cancel page, or an inquiry classified 解約相談. Signals of unidentified visitors or
    callers are dropped here because no one can be called about them. The recency window is
    applied by the marts (var cancel_signal_days), so this model stays window-free. -#}

with

web_events as (

    select * from {{ ref('int_web_events__unioned') }}

),

inquiries as (

    select * from {{ ref('int_inquiries__unioned') }}

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

signals as (

    select
        source,
        'cancel_page_visit' as signal_type,
        web_event_id as signal_id,
        customer_id,
        visited_at as signal_at

    from web_events
    where page_type = 'cancel'
        and customer_id is not null

    union all

    select
        source,
        'cancellation_request' as signal_type,
        inquiry_id as signal_id,
        customer_id,
        created_at as signal_at

    from inquiries
    where category = 'cancellation_request'
        and customer_id is not null

),

final as (

    select
        signals.source,
        signals.signal_type,
        signals.signal_id,
        signals.customer_id,
        identity.customer_key,
        signals.signal_at,
        {{ jst_date('signals.signal_at') }} as signal_date

    from signals
    inner join identity
        on identity.source = signals.source
        and identity.customer_id = signals.customer_id

)

select * from final
