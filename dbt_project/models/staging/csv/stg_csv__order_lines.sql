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
        cast(line_total as bigint) as line_total,
        cast(updated_at as timestamp) as updated_at,
        _loaded_at as loaded_at

    from raw_order_lines

)

select * from renamed
