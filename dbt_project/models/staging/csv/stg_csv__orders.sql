{{ config(enabled=('csv' in teiki_sources())) }}

with

raw_orders as (

    select * from {{ source('raw_csv', 'orders') }}
    -- live rows only: a full-snapshot export that no longer holds a record marks it deleted
    where _deleted_at is null

),

renamed as (

    select
        _source as source,
        order_id,
        customer_id,
        subscription_id,
        cast(delivery_number as integer) as delivery_number,
        cast(ordered_at as timestamp) as ordered_at,
        {{ label_code('order_status', 'raw_orders.status') }} as status,
        status as status_label,
        {{ label_code('payment_method', 'raw_orders.payment_method') }} as payment_method,
        payment_method as payment_method_label,
        cast(subtotal as bigint) as subtotal,
        cast(shipping_fee as bigint) as shipping_fee,
        cast(discount as bigint) as discount,
        cast(total as bigint) as total,
        cast(shipped_on as date) as shipped_on,
        cast(updated_at as timestamp) as updated_at,
        _loaded_at as loaded_at

    from raw_orders

)

select * from renamed
