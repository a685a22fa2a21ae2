{{ config(enabled=('colorme' in teiki_sources())) }}

{#- カラーミーショップ products in the canonical shape of stg_csv__products. product_id is the
    型番 (model_number, the merchant's product code, which sales details also carry), else the
    カラーミー id. price: tax-included sales price. is_subscription: regular_purchase (定期購入).
    The API has no default cycle or first-delivery price (NULL). -#}

with

raw_products as (

    select * from {{ source('raw_colorme', 'products') }}
    where deleted_at is null

),

renamed as (

    select
        _source as source,
        coalesce(nullif(_record->>'model_number', ''), cast(id as varchar)) as product_id,
        _record->>'name' as product_name,
        cast(null as varchar) as category,
        cast(coalesce(try_cast(_record->>'sales_price_including_tax' as bigint),
                      try_cast(_record->>'sales_price' as bigint)) as bigint) as price,
        cast(null as bigint) as first_delivery_price,
        coalesce(try_cast(_record->>'regular_purchase' as boolean), false) as is_subscription,
        cast(null as integer) as cycle_days,
        try_cast(_record->>'cost' as bigint) as unit_cost,
        make_timestamp(try_cast(_record->>'make_date' as bigint) * 1000000) as created_at,
        updated_at,
        _loaded_at as loaded_at

    from raw_products

)

select * from renamed
