{{ config(enabled=('shopify' in teiki_sources())) }}

with

raw_orders as (

    select * from {{ source('raw_shopify', 'orders') }}

),

line_items as (

    select
        _source,
        id as order_id,
        updated_at,
        _loaded_at,
        unnest(cast(json_extract(_record, '$.lineItems.nodes') as json[])) as item,
        generate_subscripts(cast(json_extract(_record, '$.lineItems.nodes') as json[]), 1)
            as line_number

    from raw_orders

),

renamed as (

    select
        _source as source,
        cast(order_id as varchar) as order_id,
        cast(line_number as integer) as line_number,
        coalesce(
            nullif(item ->> '$.sku', ''),
            regexp_extract(item ->> '$.variant.id', '(\d+)$', 1)
        ) as product_id,
        cast(item ->> '$.quantity' as integer) as quantity,
        cast(cast(item ->> '$.originalUnitPriceSet.shopMoney.amount' as decimal(18, 2)) as bigint)
            as unit_price,
        cast(cast(item ->> '$.totalDiscountSet.shopMoney.amount' as decimal(18, 2)) as bigint)
            as discount,
        cast(cast(item ->> '$.originalUnitPriceSet.shopMoney.amount' as decimal(18, 2)) as bigint)
            * cast(item ->> '$.quantity' as integer)
            - coalesce(cast(cast(item ->> '$.totalDiscountSet.shopMoney.amount' as decimal(18, 2))
                            as bigint), 0) as line_total,
        updated_at,
        _loaded_at as loaded_at,
        -- Shopify only: a line bought on a selling plan is a 定期 purchase
        item ->> '$.sellingPlan.sellingPlanId' as selling_plan_id,
        item ->> '$.sellingPlan.name' as selling_plan_name

    from line_items

)

select * from renamed
