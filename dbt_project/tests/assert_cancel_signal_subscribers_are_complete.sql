{#- The other direction of the eligibility check: every person with an active 定期契約 and a
    signal in the window is on the list. Warn: a missing name is a lost save, not a wrong call. -#}
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'cancel_signal_subscribers'}}}) }}

{%- set window_days = var('cancel_signal_days') | int -%}

with

signals_in_window as (

    select distinct customer_key
    from {{ ref('int_customers__cancel_signals') }}
    where signal_date >= {{ as_of_date() }} - {{ window_days - 1 }}
        and signal_date <= {{ as_of_date() }}

),

active_subscribers as (

    select distinct customer_key
    from {{ ref('subscriptions') }}
    where status = 'active'

)

select signals_in_window.customer_key

from signals_in_window
inner join active_subscribers
    on active_subscribers.customer_key = signals_in_window.customer_key
left join {{ ref('cancel_signal_subscribers') }} as listed
    on listed.customer_key = signals_in_window.customer_key
where listed.customer_key is null
