with

unioned as (

    {{ union_staging('payments') }}

),

final as (

    select
        source,
        payment_id,
        order_id,
        customer_id,
        payment_method,
        payment_method_label,
        attempted_at,
        {{ jst_date('attempted_at') }} as attempted_date,
        amount,
        result,
        result_label,
        failure_reason,
        failure_reason_label

    from unioned

)

select * from final
