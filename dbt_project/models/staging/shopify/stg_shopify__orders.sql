{{ config(enabled=('shopify' in var('teiki_sources'))) }}

with

raw_orders as (

    select * from {{ source('raw_shopify', 'orders') }}

),

renamed as (

    select
        _source as source,
        cast(id as varchar) as order_id,
        regexp_extract(_record ->> '$.customer.id', '(\d+)$', 1) as customer_id,
        -- The 定期契約 lives in Recharge (connectors/recharge), not in Shopify.
        cast(null as varchar) as subscription_id,
        cast(null as integer) as delivery_number,
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
        updated_at,
        _loaded_at as loaded_at,
        -- Shopify only
        _record ->> '$.name' as order_name,
        _record ->> '$.displayFinancialStatus' as financial_status,
        _record ->> '$.currencyCode' as currency_code,
        len(list_filter(
            cast(json_extract(_record, '$.lineItems.nodes[*].sellingPlan') as json[]),
            lambda x: x is not null and cast(x as varchar) <> 'null'
        )) > 0 as is_subscription_order

    from raw_orders

)

select * from renamed
