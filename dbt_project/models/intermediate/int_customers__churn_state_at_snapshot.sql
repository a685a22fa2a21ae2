{{ config(materialized='table') }}

{#- Everything 解約予兆 knows about a customer (across sources, by customer_key) at a snapshot
    date: one row per customer and snapshot date of int_subscriptions__churn_snapshots, counting
    failed payments, inquiries by category, FAQ / contact / cancel page views and 単品 orders in
    windows before the date, and the customer's revenue-order history before it. Only facts dated
    strictly before snapshot_date count. -#}

{%- set payment_methods = churn_payment_methods() -%}
{%- set inquiry_features = churn_inquiry_features() -%}

with

orders as (

    select * from {{ ref('int_orders__as_of') }}
    where is_revenue

),

payments as (

    select * from {{ ref('int_payments__unioned') }}
    where attempted_date <= {{ as_of_date() }}

),

inquiries as (

    select * from {{ ref('int_inquiries__unioned') }}
    where created_date <= {{ as_of_date() }}
        and customer_id is not null

),

web_events as (

    select * from {{ ref('int_web_events__unioned') }}
    where visited_date <= {{ as_of_date() }}
        and customer_id is not null
        and page_type in ('faq', 'contact', 'cancel')

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

customer_snapshots as (

    select distinct customer_key, snapshot_date
    from {{ ref('int_subscriptions__churn_snapshots') }}

),

customer_events as (

    select identity.customer_key, web_events.visited_date as event_date, 'web_' || web_events.page_type as kind
    from web_events
    inner join identity
        on identity.source = web_events.source
        and identity.customer_id = web_events.customer_id

    union all

    select
        identity.customer_key,
        inquiries.created_date,
        case
            {%- for name, category in inquiry_features.items() %}
            when inquiries.category = '{{ category }}' then 'inquiry_{{ name }}'
            {%- endfor %}
            else 'inquiry_other'
        end
    from inquiries
    inner join identity
        on identity.source = inquiries.source
        and identity.customer_id = inquiries.customer_id

    union all

    select identity.customer_key, payments.attempted_date, 'payment_failure_' || payments.payment_method
    from payments
    inner join identity
        on identity.source = payments.source
        and identity.customer_id = payments.customer_id
    where payments.result = 'failure'

    union all

    select customer_key, ordered_date, 'oneoff_order'
    from orders
    where subscription_id is null

),

customer_event_counts as (

    select
        customer_snapshots.customer_key,
        customer_snapshots.snapshot_date,
        {%- for method in payment_methods %}
        count(*) filter (where customer_events.kind = 'payment_failure_{{ method }}'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 90)
            as payment_failures_{{ method }}_90d,
        {%- endfor %}
        {%- for name in inquiry_features.keys() | list + ['other'] %}
        count(*) filter (where customer_events.kind = 'inquiry_{{ name }}'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 90)
            as inquiries_{{ name }}_90d,
        {%- endfor %}
        count(*) filter (where customer_events.kind = 'web_faq'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 30) as faq_visits_30d,
        count(*) filter (where customer_events.kind = 'web_contact'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 30) as contact_visits_30d,
        count(*) filter (where customer_events.kind = 'web_cancel'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 30) as cancel_page_visits_30d,
        count(*) filter (where customer_events.kind = 'web_cancel'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 90) as cancel_page_visits_90d,
        -- A fresh signal: cancellations follow their cancel-page visit or 解約相談 by ~5 days.
        count(*) filter (where customer_events.kind in ('web_cancel', 'inquiry_cancellation')
            and customer_events.event_date >= customer_snapshots.snapshot_date - 7) as cancel_signals_7d,
        count(*) filter (where customer_events.kind = 'oneoff_order'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 365) as oneoff_orders_365d,
        -- The cancel-intent signals of int_customers__cancel_signals (cancel-page views and
        -- 解約相談 of identified customers), from the events already read here rather than
        -- typing every page view a second time.
        max(customer_events.event_date) filter (where customer_events.kind in ('web_cancel', 'inquiry_cancellation'))
            as last_cancel_signal_date

    from customer_snapshots
    inner join customer_events
        on customer_events.customer_key = customer_snapshots.customer_key
        and customer_events.event_date < customer_snapshots.snapshot_date
        and (
            customer_events.event_date >= customer_snapshots.snapshot_date - 90
            or customer_events.kind in ('oneoff_order', 'web_cancel', 'inquiry_cancellation')
        )
    group by all

),

-- Gaps between the customer's consecutive revenue orders (any product, any source).
customer_orders as (

    select
        customer_key,
        ordered_date,
        date_diff('day', lag(ordered_date) over (
            partition by customer_key order by ordered_at, source, order_id
        ), ordered_date) as gap_days

    from orders

),

customer_order_history as (

    select
        customer_snapshots.customer_key,
        customer_snapshots.snapshot_date,
        count(*) as orders_before,
        min(customer_orders.ordered_date) as first_order_date,
        max(customer_orders.ordered_date) as last_order_date,
        median(customer_orders.gap_days) as median_gap_days

    from customer_snapshots
    inner join customer_orders
        on customer_orders.customer_key = customer_snapshots.customer_key
        and customer_orders.ordered_date < customer_snapshots.snapshot_date
    group by all

),

final as (

    select
        customer_snapshots.customer_key,
        customer_snapshots.snapshot_date,
        customer_event_counts.* exclude (customer_key, snapshot_date),
        customer_order_history.* exclude (customer_key, snapshot_date)

    from customer_snapshots
    left join customer_event_counts
        on customer_event_counts.customer_key = customer_snapshots.customer_key
        and customer_event_counts.snapshot_date = customer_snapshots.snapshot_date
    left join customer_order_history
        on customer_order_history.customer_key = customer_snapshots.customer_key
        and customer_order_history.snapshot_date = customer_snapshots.snapshot_date

)

select * from final
