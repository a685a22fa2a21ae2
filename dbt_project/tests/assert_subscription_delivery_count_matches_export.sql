{#- Teiki's delivery count (revenue orders of the 定期契約 up to as_of_date) is compared with the
    cart's own 定期回数. Only subscriptions with no order after as_of_date are compared: for the
    others the export counts deliveries we deliberately leave out. Warn, listing the rows: carts
    count differently (a payment-cancelled last order, a skipped delivery counted as one), so a
    difference is a question for the data team, not a reason to stop the refresh. A merchant whose
    cart's figure is the one agents quote declares it authoritative in the profile
    (`authoritative: true`): delivery_count is then the export's, and this test still shows where
    Teiki's own count differs (missing orders, usually). -#}
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'subscriptions'}}, 'failing_row_keys': ['source', 'subscription_id']}) }}

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
    subscriptions.derived_delivery_count,
    subscriptions.export_delivery_count

from subscriptions
left join later_orders
    on later_orders.source = subscriptions.source
    and later_orders.subscription_id = subscriptions.subscription_id
where later_orders.subscription_id is null
    and subscriptions.export_delivery_count is not null
    and subscriptions.derived_delivery_count <> subscriptions.export_delivery_count
