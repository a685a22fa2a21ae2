{#- One row per source, cancellation month, product, delivery number at cancellation, cancel
    reason and support agent: the 定期契約 cancelled on or before as_of_date. The agent is the one
    who handled the customer's last inquiry between the contract's start and its cancellation
    ('(なし)' when nobody did); the delivery number is the deliveries received before cancelling. -#}

{%- set involuntary = var('involuntary_cancel_reasons') -%}

with

subscriptions as (

    select * from {{ ref('subscriptions') }}
    where status = 'cancelled'

),

inquiries as (

    select * from {{ ref('int_inquiries__handled_by_agent') }}

),

last_agent as (

    select
        subscriptions.source,
        subscriptions.subscription_id,
        arg_max(
            inquiries.agent,
            (inquiries.created_at, inquiries.source, inquiries.inquiry_id)
        ) as agent

    from subscriptions
    inner join inquiries
        on inquiries.customer_key = subscriptions.customer_key
        and inquiries.created_date >= subscriptions.started_date
        and inquiries.created_at <= subscriptions.cancelled_at
    group by all

),

cancellations as (

    select
        subscriptions.source,
        cast(date_trunc('month', subscriptions.cancelled_date) as date) as cancelled_month,
        subscriptions.product_id,
        subscriptions.product_name,
        subscriptions.delivery_count as delivery_number,
        coalesce(subscriptions.cancel_reason, '(未記入)') as cancel_reason,
        coalesce(subscriptions.cancel_reason in (
            {%- for reason in involuntary %}'{{ reason }}'{{ ", " if not loop.last }}{% endfor -%}
        ), false) as is_involuntary,
        coalesce(last_agent.agent, '(なし)') as agent

    from subscriptions
    left join last_agent
        on last_agent.source = subscriptions.source
        and last_agent.subscription_id = subscriptions.subscription_id

),

grouped as (

    select
        source,
        cancelled_month,
        product_id,
        any_value(product_name) as product_name,
        delivery_number,
        cancel_reason,
        is_involuntary,
        agent,
        count(*) as cancellations

    from cancellations
    group by source, cancelled_month, product_id, delivery_number, cancel_reason, is_involuntary, agent

),

final as (

    select
        source,
        cancelled_month,
        cast(month(cancelled_month) as integer) as calendar_month,
        product_id,
        product_name,
        cast(delivery_number as integer) as delivery_number,
        cancel_reason,
        is_involuntary,
        agent,
        cast(cancellations as integer) as cancellations,
        cast(sum(cancellations) over (partition by source, cancelled_month) as integer) as month_cancellations,
        cast(cancellations / sum(cancellations) over (partition by source, cancelled_month) as double)
            as share_of_month_cancellations,
        {{ as_of_date() }} as as_of_date

    from grouped

)

select * from final
