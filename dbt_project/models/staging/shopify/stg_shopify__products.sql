{{ config(enabled=('shopify' in teiki_sources())) }}

with

raw_products as (

    select * from {{ source('raw_shopify', 'products') }}

),

variants as (

    select
        raw_products.*,
        unnest(cast(json_extract(_record, '$.variants.nodes') as json[])) as variant

    from raw_products

),

renamed as (

    select
        _source as source,
        coalesce(
            nullif(variant ->> '$.sku', ''),
            regexp_extract(variant ->> '$.id', '(\d+)$', 1)
        ) as product_id,
        case
            when coalesce(variant ->> '$.title', 'Default Title') = 'Default Title'
                then _record ->> '$.title'
            else (_record ->> '$.title') || ' ' || (variant ->> '$.title')
        end as product_name,
        nullif(_record ->> '$.productType', '') as category,
        cast(cast(variant ->> '$.price' as decimal(18, 2)) as bigint) as price,
        cast(null as bigint) as first_delivery_price,
        coalesce(cast(_record ->> '$.requiresSellingPlan' as boolean), false)
            or coalesce(json_array_length(_record, '$.sellingPlanGroups.nodes'), 0) > 0
            as is_subscription,
        cast(
            cast(_record ->> '$.sellingPlanGroups.nodes[0].sellingPlans.nodes[0].deliveryPolicy.intervalCount'
                 as integer)
            * case _record ->> '$.sellingPlanGroups.nodes[0].sellingPlans.nodes[0].deliveryPolicy.interval'
                when 'DAY' then 1 when 'WEEK' then 7 when 'MONTH' then 30 when 'YEAR' then 365
              end
            as integer) as cycle_days,
        cast(null as bigint) as unit_cost,
        cast(_record ->> '$.createdAt' as timestamptz) at time zone 'UTC' as created_at,
        updated_at,
        _loaded_at as loaded_at,
        -- Shopify only
        deleted_at is not null as is_deleted,
        regexp_extract(variant ->> '$.id', '(\d+)$', 1) as shopify_variant_id,
        cast(id as varchar) as shopify_product_id

    from variants

)

select * from renamed
