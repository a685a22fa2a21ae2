{{ config(enabled=('colorme' in teiki_sources())) }}

{#- カラーミーショップ sales (受注) in the canonical shape of stg_csv__orders.
    status: canceled -> cancelled, delivered -> shipped, else pending (status_label says which
    flag decided). discount = point + GMO point + other (coupon) discounts, positive, so that
    total = subtotal + shipping + fees - discount. The API's payment_id is the shop's own
    payment setting (GET /v1/payments.json), so payment_method stays NULL with the id as label.
    v1 sales carry no 定期 (subscription) link: subscription_id and delivery_number are NULL. -#}

with

raw_sales as (

    select * from {{ source('raw_colorme', 'sales') }}
    where deleted_at is null

),

renamed as (

    select
        _source as source,
        cast(id as varchar) as order_id,
        _record->'customer'->>'id' as customer_id,
        cast(null as varchar) as subscription_id,
        cast(null as integer) as delivery_number,
        make_timestamp(try_cast(_record->>'make_date' as bigint) * 1000000) as ordered_at,
        case
            when try_cast(_record->>'canceled' as boolean) then 'cancelled'
            when try_cast(_record->>'delivered' as boolean) then 'shipped'
            else 'pending'
        end as status,
        case
            when try_cast(_record->>'canceled' as boolean) then 'canceled'
            when try_cast(_record->>'delivered' as boolean) then 'delivered'
            else 'not delivered'
        end as status_label,
        cast(null as varchar) as payment_method,
        _record->>'payment_id' as payment_method_label,
        try_cast(_record->>'product_total_price' as bigint) as subtotal,
        try_cast(_record->>'delivery_total_charge' as bigint) as shipping_fee,
        coalesce(try_cast(_record->>'point_discount' as bigint), 0)
            + coalesce(try_cast(_record->>'gmo_point_discount' as bigint), 0)
            + coalesce(try_cast(_record->>'other_discount' as bigint), 0) as discount,
        try_cast(_record->>'total_price' as bigint) as total,
        cast(null as date) as shipped_on,
        updated_at,
        _loaded_at as loaded_at

    from raw_sales

)

select * from renamed
