{{ config(enabled=('recharge' in var('teiki_sources'))) }}

{#- Recharge ISO 8601 text (with or without a UTC offset) -> naive UTC timestamp, without ICU:
    `utc | replace('COL', <text expression>)`. -#}
{%- set utc -%}
    (try_cast(left(COL, 19) as timestamp)
        - case when regexp_matches(COL, '[+-][0-9]{2}:[0-9]{2}$')
            then to_minutes((case when substr(COL, -6, 1) = '-' then -1 else 1 end)
                * (cast(substr(COL, -5, 2) as bigint) * 60 + cast(substr(COL, -2, 2) as bigint)))
            else to_minutes(0) end)
{%- endset %}

{#- Recharge subscriptions (定期契約) in the canonical shape of stg_csv__subscriptions.
    status: cancelled / expired -> cancelled; active without a next charge date, or paused ->
    paused; active -> active; anything else -> unknown (label kept in status_label).
    cycle_days from order_interval_unit x order_interval_frequency (week = 7 days, month = 30).
    product_id is the SKU (the cart's product code), else the Shopify product id.
    delivery_count (定期回数) = charges that produced an order for this subscription (status
    success or partially_refunded, matched through line_items[].purchase_item_id); skip_count is
    not in the API records (NULL). -#}

with

raw_subscriptions as (

    select * from {{ source('raw_recharge', 'subscriptions') }}
    where deleted_at is null

),

deliveries as (

    select
        item->>'purchase_item_id' as subscription_id,
        count(distinct charges.id) as delivery_count
    from {{ source('raw_recharge', 'charges') }} as charges,
        unnest(json_extract(charges._record, '$.line_items[*]')) as li(item)
    where charges.deleted_at is null
        and lower(charges._record->>'status') in ('success', 'partially_refunded')
        and coalesce(item->>'purchase_item_type', 'subscription') = 'subscription'
    group by 1

),

renamed as (

    select
        raw_subscriptions._source as source,
        cast(raw_subscriptions.id as varchar) as subscription_id,
        _record->>'customer_id' as customer_id,
        coalesce(nullif(_record->>'sku', ''), _record->'external_product_id'->>'ecommerce') as product_id,
        try_cast(_record->>'quantity' as integer) as quantity,
        try_cast(_record->>'order_interval_frequency' as integer)
            * case lower(_record->>'order_interval_unit')
                when 'day' then 1 when 'week' then 7 when 'month' then 30
              end as cycle_days,
        case
            when lower(_record->>'status') in ('cancelled', 'expired') then 'cancelled'
            when lower(_record->>'status') = 'paused' then 'paused'
            when lower(_record->>'status') = 'active'
                and nullif(_record->>'next_charge_scheduled_at', '') is null then 'paused'
            when lower(_record->>'status') = 'active' then 'active'
            else 'unknown'
        end as status,
        _record->>'status' as status_label,
        {{ utc | replace('COL', "_record->>'created_at'") }} as started_at,
        {{ utc | replace('COL', "_record->>'cancelled_at'") }} as cancelled_at,
        nullif(_record->>'cancellation_reason', '') as cancel_reason,
        try_cast(left(_record->>'next_charge_scheduled_at', 10) as date) as next_delivery_date,
        cast(coalesce(deliveries.delivery_count, 0) as integer) as delivery_count,
        cast(null as integer) as skip_count,
        raw_subscriptions.updated_at,
        raw_subscriptions._loaded_at as loaded_at

    from raw_subscriptions
    left join deliveries
        on deliveries.subscription_id = cast(raw_subscriptions.id as varchar)

)

select * from renamed
