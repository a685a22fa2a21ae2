{#- The call-center list: active subscribers who showed cancel intent in the last
    cancel_signal_days days, counted in JST calendar days ending on as_of_date inclusive
    (7 means as_of_date and the 6 days before it). Contact policy (opt-outs, suppression,
    holdout) is applied downstream in Python so that this list stays a pure statement of fact. -#}

{%- set window_days = var('cancel_signal_days') | int -%}

with

signals as (

    select * from {{ ref('int_customers__cancel_signals') }}
    -- The JST date is derived here from signal_at, not read from signal_date, so the unit test
    -- covers the UTC/JST day boundary together with the window.
    where {{ jst_date('signal_at') }} between {{ as_of_date() }} - {{ window_days - 1 }} and {{ as_of_date() }}

),

subscriptions as (

    select * from {{ ref('subscriptions') }}
    where status = 'active'

),

customers as (

    select * from {{ ref('customers') }}

),

signal_summary as (

    select
        customer_key,
        count(*) filter (where signal_type = 'cancel_page_visit') as cancel_page_visits,
        max(signal_at) filter (where signal_type = 'cancel_page_visit') as last_cancel_page_visit_at,
        count(*) filter (where signal_type = 'cancellation_request') as cancellation_inquiries,
        max(signal_at) filter (where signal_type = 'cancellation_request') as last_cancellation_inquiry_at,
        max(signal_at) as last_signal_at

    from signals
    group by customer_key

),

-- The subscription the agent talks about: the one whose next box ships soonest, since that is
-- the delivery the customer is about to refuse.
ranked_subscriptions as (

    select
        *,
        row_number() over (
            partition by customer_key
            order by next_delivery_date nulls last, started_at, source, subscription_id
        ) as urgency_rank,
        count(*) over (partition by customer_key) as active_subscription_count

    from subscriptions

),

joined as (

    select
        signal_summary.customer_key,
        ranked_subscriptions.source,
        ranked_subscriptions.customer_id,
        customers.full_name,
        customers.full_name_kana,
        customers.phone,
        customers.phone_opt_in,
        ranked_subscriptions.subscription_id,
        ranked_subscriptions.product_id,
        ranked_subscriptions.product_name,
        ranked_subscriptions.delivery_count,
        ranked_subscriptions.next_delivery_date,
        ranked_subscriptions.active_subscription_count,
        signal_summary.cancel_page_visits,
        signal_summary.last_cancel_page_visit_at,
        signal_summary.cancellation_inquiries,
        signal_summary.last_cancellation_inquiry_at,
        signal_summary.last_signal_at

    from signal_summary
    inner join ranked_subscriptions
        on ranked_subscriptions.customer_key = signal_summary.customer_key
        and ranked_subscriptions.urgency_rank = 1
    left join customers
        on customers.customer_key = signal_summary.customer_key

),

final as (

    select
        customer_key,
        source,
        customer_id,
        full_name,
        full_name_kana,
        phone,
        phone_opt_in,
        subscription_id,
        product_id,
        product_name,
        cast(delivery_count as integer) as delivery_count,
        next_delivery_date,
        cast(active_subscription_count as integer) as active_subscription_count,
        cast(cancel_page_visits as integer) as cancel_page_visits,
        cast(cancellation_inquiries as integer) as cancellation_inquiries,
        last_signal_at,
        -- Agents read this aloud-ready sentence; dates are JST month/day. "最終" marks the latest
        -- of several signals, a single one just shows its date.
        concat_ws(
            '、',
            case when cancel_page_visits > 0 then
                '解約ページ閲覧 ' || cancel_page_visits || '回（'
                || case when cancel_page_visits > 1 then '最終 ' else '' end
                || strftime({{ jst_date('last_cancel_page_visit_at') }}, '%-m/%-d') || '）'
            end,
            case when cancellation_inquiries > 0 then
                '解約相談 ' || cancellation_inquiries || '件（'
                || case when cancellation_inquiries > 1 then '最終 ' else '' end
                || strftime({{ jst_date('last_cancellation_inquiry_at') }}, '%-m/%-d') || '）'
            end
        ) as signal_reason,
        {{ as_of_date() }} as as_of_date

    from joined

)

select * from final
