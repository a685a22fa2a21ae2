{{ config(enabled=('recharge' in teiki_sources())) }}

{#- Recharge subscriptions (定期契約) in the canonical shape of stg_csv__subscriptions.
    status: cancelled / expired -> cancelled; active without a next charge date, or paused ->
    paused; active -> active; anything else -> unknown (label kept in status_label).
    cycle_days from order_interval_unit x order_interval_frequency (week = 7 days, month = 30).
    product_id is the SKU (the cart's product code), else the Shopify variant id
    (external_variant_id.ecommerce), the same rule as stg_shopify__products.
    delivery_count (定期回数) = the delivered charges attributed to the subscription
    (stg_recharge__subscription_charges), the same charges that give its Shopify orders their
    subscription_id; skip_count is not in the API records (NULL).

    On a Shopify shop (shopify in TEIKI_SOURCES) a subscription whose customer is linked to a
    Shopify customer (customers[].external_customer_id.ecommerce, Recharge 2021-11 customer object:
    https://storefront.getrecharge.com/client/docs/types/interfaces/Customer) takes the shop's
    keys: source = 'shopify' and customer_id = the Shopify customer id, so that it joins the
    Shopify customer, its products and the orders its charges created (the canonical keys are
    (source, id)). An unlinked one keeps Recharge's own (source 'recharge', Recharge customer
    id), matching stg_recharge__customers. -#}

{%- set on_shop = 'shopify' in teiki_sources() %}

with

raw_subscriptions as (

    select * from {{ source('raw_recharge', 'subscriptions') }}
    where deleted_at is null

),

raw_customers as (

    select * from {{ source('raw_recharge', 'customers') }}

),

subscription_charges as (

    select * from {{ ref('stg_recharge__subscription_charges') }}

),

deliveries as (

    select
        subscription_id,
        count(*) filter (where is_delivered) as delivery_count

    from subscription_charges
    group by subscription_id

),

shop_customers as (

    select
        cast(id as varchar) as recharge_customer_id,
        nullif(_record->'external_customer_id'->>'ecommerce', '') as shop_customer_id

    from raw_customers

),

renamed as (

    select
        {%- if on_shop %}
        case when shop_customers.shop_customer_id is not null then 'shopify'
            else raw_subscriptions._source end as source,
        coalesce(shop_customers.shop_customer_id, raw_subscriptions._record->>'customer_id')
            as customer_id,
        {%- else %}
        raw_subscriptions._source as source,
        raw_subscriptions._record->>'customer_id' as customer_id,
        {%- endif %}
        cast(raw_subscriptions.id as varchar) as subscription_id,
        coalesce(
            nullif(_record->>'sku', ''),
            nullif(_record->'external_variant_id'->>'ecommerce', '')
        ) as product_id,
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
        {{ iso8601_utc("_record->>'created_at'") }} as started_at,
        {{ iso8601_utc("_record->>'cancelled_at'") }} as cancelled_at,
        nullif(_record->>'cancellation_reason', '') as cancel_reason,
        try_cast(left(_record->>'next_charge_scheduled_at', 10) as date) as next_delivery_date,
        cast(coalesce(deliveries.delivery_count, 0) as integer) as delivery_count,
        cast(null as integer) as skip_count,
        raw_subscriptions.updated_at,
        raw_subscriptions._loaded_at as loaded_at

    from raw_subscriptions
    left join deliveries
        on deliveries.subscription_id = cast(raw_subscriptions.id as varchar)
    left join shop_customers
        on shop_customers.recharge_customer_id = raw_subscriptions._record->>'customer_id'

)

select * from renamed
