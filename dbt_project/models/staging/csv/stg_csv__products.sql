{{ config(enabled=('csv' in teiki_sources())) }}

with

raw_products as (

    select * from {{ source('raw_csv', 'products') }}
    -- live rows only: a full-snapshot export that no longer holds a record marks it deleted
    where _deleted_at is null

),

renamed as (

    select
        _source as source,
        product_id,
        product_name,
        category,
        cast(price as bigint) as price,
        cast(first_delivery_price as bigint) as first_delivery_price,
        is_subscription,
        cast(cycle_days as integer) as cycle_days,
        cast(unit_cost as bigint) as unit_cost,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        _loaded_at as loaded_at

    from raw_products

)

select * from renamed
