{#- Independent re-check of the call list: every listed customer holds an active 定期契約 at
    as_of_date, the shown subscription is theirs and active, and at least one signal falls in the
    window. Error: a wrong name on this list is a phone call to someone who should not get it. -#}
{{ config(meta={'dagster': {'ref': {'name': 'cancel_signal_subscribers'}}}) }}

{%- set window_days = var('cancel_signal_days') | int -%}

with

listed as (

    select * from {{ ref('cancel_signal_subscribers') }}

),

subscriptions as (

    select * from {{ ref('subscriptions') }}

),

signals_in_window as (

    select distinct customer_key
    from {{ ref('int_customers__cancel_signals') }}
    where signal_date >= {{ as_of_date() }} - {{ window_days - 1 }}
        and signal_date <= {{ as_of_date() }}

)

select
    listed.customer_key,
    listed.subscription_id,
    subscriptions.status,
    subscriptions.customer_key as subscription_customer_key,
    signals_in_window.customer_key is not null as has_signal_in_window

from listed
left join subscriptions
    on subscriptions.source = listed.source
    and subscriptions.subscription_id = listed.subscription_id
left join signals_in_window
    on signals_in_window.customer_key = listed.customer_key
where subscriptions.status is distinct from 'active'
    or subscriptions.customer_key is distinct from listed.customer_key
    or signals_in_window.customer_key is null
    or listed.cancel_page_visits + listed.cancellation_inquiries = 0
