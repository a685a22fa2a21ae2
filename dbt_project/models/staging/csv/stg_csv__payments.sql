{{ config(enabled=('csv' in teiki_sources())) }}

with

raw_payments as (

    select * from {{ source('raw_csv', 'payments') }}
    -- live rows only: a full-snapshot export that no longer holds a record marks it deleted
    where _deleted_at is null

),

renamed as (

    select
        _source as source,
        payment_id,
        order_id,
        customer_id,
        {{ label_code('payment_method', 'raw_payments.method') }} as payment_method,
        method as payment_method_label,
        cast(attempted_at as timestamp) as attempted_at,
        cast(amount as bigint) as amount,
        {{ label_code('payment_result', 'raw_payments.result') }} as result,
        result as result_label,
        {{ label_code('payment_failure_reason', 'raw_payments.failure_reason') }} as failure_reason,
        failure_reason as failure_reason_label,
        _loaded_at as loaded_at

    from raw_payments

)

select * from renamed
