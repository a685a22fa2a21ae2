{{ config(enabled=('shopify' in teiki_sources())) }}

{#- Shopify orders in the canonical shape of stg_csv__orders. The 定期契約 lives in Recharge
    (Shopify's API does not let another app read subscription contracts), so with Recharge
    configured an order a Recharge charge created (the charge's external_order_id.ecommerce)
    carries that charge's subscription_id and delivery_number (定期回数), from
    stg_recharge__subscription_charges; every other order has NULL there, as a one-off order. -#}

{%- set with_recharge = 'recharge' in teiki_sources() %}

with

raw_orders as (

    select * from {{ source('raw_shopify', 'orders') }}

),
{%- if with_recharge %}

subscription_charges as (

    select * from {{ ref('stg_recharge__subscription_charges') }}
    where order_id is not null

),
{%- endif %}

renamed as (

    select
        raw_orders._source as source,
        cast(raw_orders.id as varchar) as order_id,
        regexp_extract(_record ->> '$.customer.id', '(\d+)$', 1) as customer_id,
        {%- if with_recharge %}
        subscription_charges.subscription_id,
        subscription_charges.delivery_number,
        {%- else %}
        cast(null as varchar) as subscription_id,
        cast(null as integer) as delivery_number,
        {%- endif %}
        cast(coalesce(_record ->> '$.processedAt', _record ->> '$.createdAt') as timestamptz)
            at time zone 'UTC' as ordered_at,
        case
            when _record ->> '$.cancelledAt' is not null then 'cancelled'
            when _record ->> '$.displayFulfillmentStatus' = 'FULFILLED' then 'shipped'
            else 'pending'
        end as status,
        case
            when _record ->> '$.cancelledAt' is not null
                then 'CANCELLED (' || coalesce(_record ->> '$.cancelReason', '') || ')'
            else _record ->> '$.displayFulfillmentStatus'
        end as status_label,
        {{ label_code('payment_method', "(raw_orders._record ->> '$.paymentGatewayNames[0]')") }}
            as payment_method,
        _record ->> '$.paymentGatewayNames[0]' as payment_method_label,
        cast(cast(_record ->> '$.subtotalPriceSet.shopMoney.amount' as decimal(18, 2)) as bigint)
            as subtotal,
        cast(cast(_record ->> '$.totalShippingPriceSet.shopMoney.amount' as decimal(18, 2)) as bigint)
            as shipping_fee,
        cast(cast(_record ->> '$.totalDiscountsSet.shopMoney.amount' as decimal(18, 2)) as bigint)
            as discount,
        cast(cast(_record ->> '$.totalPriceSet.shopMoney.amount' as decimal(18, 2)) as bigint)
            as total,
        cast(null as date) as shipped_on,
        raw_orders.updated_at,
        raw_orders._loaded_at as loaded_at,
        -- Shopify only
        _record ->> '$.name' as order_name,
        _record ->> '$.displayFinancialStatus' as financial_status,
        _record ->> '$.currencyCode' as currency_code,
        len(list_filter(
            cast(json_extract(_record, '$.lineItems.nodes[*].sellingPlan') as json[]),
            lambda x: x is not null and cast(x as varchar) <> 'null'
        )) > 0 as is_subscription_order

    from raw_orders
    {%- if with_recharge %}
    left join subscription_charges
        on subscription_charges.order_id = cast(raw_orders.id as varchar)
    {%- endif %}

)

select * from renamed
