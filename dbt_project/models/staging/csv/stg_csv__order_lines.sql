{{ config(enabled=('csv' in teiki_sources())) }}

with

raw_order_lines as (

    select * from {{ source('raw_csv', 'order_lines') }}
    -- live rows only: a full-snapshot export that no longer holds a record marks it deleted
    where _deleted_at is null

),

renamed as (

    select
        _source as source,
        order_id,
        cast(line_number as integer) as line_number,
        product_id,
        cast(quantity as integer) as quantity,
        cast(unit_price as bigint) as unit_price,
        cast(discount as bigint) as discount,
        -- 小計 as exported; a cart that exports no line total (the column is NULL in the raw
        -- contract) gets it as unit price x quantity - line discount, the demo cart's 小計 and
        -- what the Shopify and カラーミー staging compute
        coalesce(
            cast(line_total as bigint),
            cast(unit_price as bigint) * cast(quantity as bigint) - coalesce(cast(discount as bigint), 0)
        ) as line_total,
        cast(updated_at as timestamp) as updated_at,
        _loaded_at as loaded_at

    from raw_order_lines

)

select * from renamed
