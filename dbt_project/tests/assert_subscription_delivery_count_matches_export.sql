{#- Our delivery count (revenue orders of the 定期契約 up to as_of_date) must agree with the
    cart's own 定期回数. Only subscriptions with no order after as_of_date are compared: for the
    others the export counts deliveries we deliberately leave out. Error: agents quote this
    number to the customer ("3回目のお届け"), and a disagreement usually means orders were not
    fully loaded, which would also corrupt the call list. -#}
{{ config(meta={'dagster': {'ref': {'name': 'subscriptions'}}, 'failing_row_keys': ['source', 'subscription_id']}) }}

with

subscriptions as (

    select * from {{ ref('subscriptions') }}

),

later_orders as (

    select distinct
        source,
        subscription_id

    from {{ ref('int_orders__unioned') }}
    where subscription_id is not null
        and ordered_date > {{ as_of_date() }}

)

select
    subscriptions.source,
    subscriptions.subscription_id,
    subscriptions.delivery_count,
    subscriptions.export_delivery_count

from subscriptions
left join later_orders
    on later_orders.source = subscriptions.source
    and later_orders.subscription_id = subscriptions.subscription_id
where later_orders.subscription_id is null
    and subscriptions.export_delivery_count is not null
    and subscriptions.delivery_count <> subscriptions.export_delivery_count
