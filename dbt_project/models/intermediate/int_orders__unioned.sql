with

unioned as (

    {{ union_staging('orders') }}

),

final as (

    select
        source,
        order_id,
        customer_id,
        subscription_id,
        delivery_number,
        ordered_at,
        {{ jst_date('ordered_at') }} as ordered_date,
        status,
        status_label,
        -- Revenue and order counts use the statuses known to be live. 'unknown' (an unmapped
        -- label, e.g. a new 返品 status) counts neither as revenue nor as cancelled until mapped.
        status in ('shipped', 'pending') as is_revenue,
        status = 'cancelled' as is_cancelled,
        payment_method,
        payment_method_label,
        subtotal,
        shipping_fee,
        discount,
        total,
        shipped_on,
        updated_at

    from unioned

)

select * from final
