{#- Orders placed on or before as_of_date (JST), with the resolved customer, payment outcome and
    the customer's order sequence. Orders after as_of_date are left out so a backfill at an
    earlier date does not see the future. -#}

with

orders as (

    select * from {{ ref('int_orders__unioned') }}
    where ordered_date <= {{ as_of_date() }}

),

order_lines as (

    select * from {{ ref('int_order_lines__unioned') }}

),

payments as (

    select * from {{ ref('int_payments__unioned') }}
    where attempted_date <= {{ as_of_date() }}

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

line_totals as (

    select
        source,
        order_id,
        count(*) as line_count,
        sum(quantity) as item_quantity

    from order_lines
    group by source, order_id

),

payment_outcomes as (

    select
        source,
        order_id,
        count(*) as payment_attempts,
        count(*) filter (where result = 'failure') as failed_payment_attempts,
        count(*) filter (where result = 'success') > 0 as is_paid,
        arg_max(result, attempted_at) as last_payment_result,
        arg_max(failure_reason, attempted_at) filter (where result = 'failure') as last_failure_reason,
        arg_max(failure_reason_label, attempted_at) filter (where result = 'failure') as last_failure_reason_label

    from payments
    group by source, order_id

),

joined as (

    select
        orders.order_id,
        orders.source,
        orders.customer_id,
        -- A customer_id missing from the customer export keeps a per-record key so the order is
        -- still counted; the relationships test on customer_key reports it.
        coalesce(identity.customer_key, orders.source || ':' || orders.customer_id) as customer_key,
        orders.subscription_id,
        orders.delivery_number,
        orders.ordered_at,
        orders.ordered_date,
        orders.status,
        orders.status_label,
        orders.is_revenue,
        orders.payment_method,
        orders.payment_method_label,
        orders.subtotal,
        orders.shipping_fee,
        orders.discount,
        orders.total,
        orders.shipped_on,
        coalesce(line_totals.line_count, 0) as line_count,
        coalesce(line_totals.item_quantity, 0) as item_quantity,
        coalesce(payment_outcomes.payment_attempts, 0) as payment_attempts,
        coalesce(payment_outcomes.failed_payment_attempts, 0) as failed_payment_attempts,
        coalesce(payment_outcomes.is_paid, false) as is_paid,
        payment_outcomes.last_payment_result,
        payment_outcomes.last_failure_reason,
        payment_outcomes.last_failure_reason_label

    from orders
    left join identity
        on identity.source = orders.source
        and identity.customer_id = orders.customer_id
    left join line_totals
        on line_totals.source = orders.source
        and line_totals.order_id = orders.order_id
    left join payment_outcomes
        on payment_outcomes.source = orders.source
        and payment_outcomes.order_id = orders.order_id

),

sequenced as (

    select
        *,
        -- Sequence over revenue orders only: a cancelled first order is not the customer's
        -- first purchase, so F2 (2回目購入) analysis starts from the first order that stood.
        case
            when is_revenue then row_number() over (
                partition by customer_key, is_revenue
                order by ordered_at, source, order_id
            )
        end as customer_order_number

    from joined

),

final as (

    select
        order_id,
        source,
        customer_id,
        customer_key,
        subscription_id,
        subscription_id is not null as is_subscription_order,
        cast(delivery_number as integer) as delivery_number,
        ordered_at,
        ordered_date,
        status,
        status_label,
        is_revenue,
        cast(subtotal as bigint) as subtotal,
        cast(shipping_fee as bigint) as shipping_fee,
        cast(discount as bigint) as discount,
        cast(total as bigint) as total,
        cast(case when is_revenue then total else 0 end as bigint) as revenue,
        cast(line_count as integer) as line_count,
        cast(item_quantity as integer) as item_quantity,
        cast(customer_order_number as integer) as customer_order_number,
        coalesce(customer_order_number = 1, false) as is_first_order,
        shipped_on,
        payment_method,
        payment_method_label,
        cast(payment_attempts as integer) as payment_attempts,
        cast(failed_payment_attempts as integer) as failed_payment_attempts,
        is_paid,
        last_payment_result,
        last_failure_reason,
        last_failure_reason_label,
        {{ as_of_date() }} as as_of_date

    from sequenced

)

select * from final
