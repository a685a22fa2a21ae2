with

unioned as (

    {{ union_staging('subscriptions') }}

),

final as (

    select
        source,
        subscription_id,
        customer_id,
        product_id,
        quantity,
        cycle_days,
        status,
        status_label,
        started_at,
        {{ jst_date('started_at') }} as started_date,
        cancelled_at,
        {{ jst_date('cancelled_at') }} as cancelled_date,
        cancel_reason,
        next_delivery_date,
        delivery_count,
        skip_count,
        updated_at,
        {{ jst_date('updated_at') }} as updated_date

    from unioned

)

select * from final
