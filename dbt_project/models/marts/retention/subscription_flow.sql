{#- 定期フロー: how a first-delivery cohort of 定期契約 thins out delivery by delivery, per product.
    A contract counts at delivery n only if it has had the chance to reach n by as_of_date:
    first_delivery_date + (n - 1) x cycle_days + subscription_flow_grace_days <= as_of_date.
    DECISIONLOG.md "Retention marts: 定期フロー" gives the reasons. -#}

{%- set grace_days = var('subscription_flow_grace_days') | int -%}
{%- set max_deliveries = var('subscription_flow_max_deliveries') | int -%}

with

subscriptions as (

    -- Contracts with at least one delivery (a revenue 定期 order by as_of_date); the cohort is
    -- the JST month of the first delivery's order date.
    select
        source,
        subscription_id,
        product_id,
        product_name,
        cycle_days,
        delivery_count,
        status = 'cancelled' as is_cancelled,
        first_delivery_ordered_date as first_delivery_date,
        cast(date_trunc('month', first_delivery_ordered_date) as date) as cohort_month

    from {{ ref('subscriptions') }}
    where delivery_count >= 1

),

delivery_numbers as (

    select cast(range as integer) as delivery_number
    from range(1, {{ max_deliveries }} + 1)

),

eligible as (

    select
        subscriptions.*,
        delivery_numbers.delivery_number

    from subscriptions
    inner join delivery_numbers
        on subscriptions.first_delivery_date
            + (delivery_numbers.delivery_number - 1) * subscriptions.cycle_days
            + {{ grace_days }} <= {{ as_of_date() }}

),

cohort_sizes as (

    select
        source,
        product_id,
        cohort_month,
        count(*) as cohort_subscriptions

    from subscriptions
    group by all

),

flow as (

    select
        source,
        product_id,
        cohort_month,
        delivery_number,
        any_value(product_name) as product_name,
        count(*) as eligible_subscriptions,
        count(*) filter (where delivery_count >= delivery_number) as subscriptions_reached,
        count(*) filter (where delivery_count >= delivery_number - 1) as subscriptions_reached_previous,
        count(*) filter (where delivery_count = delivery_number and is_cancelled) as cancelled_at_delivery,
        count(*) filter (where delivery_count = delivery_number and not is_cancelled) as pending_at_delivery

    from eligible
    group by source, product_id, cohort_month, delivery_number

),

final as (

    select
        flow.source,
        flow.product_id,
        flow.product_name,
        flow.cohort_month,
        flow.delivery_number,
        cast(cohort_sizes.cohort_subscriptions as integer) as cohort_subscriptions,
        cast(flow.eligible_subscriptions as integer) as eligible_subscriptions,
        cast(flow.subscriptions_reached as integer) as subscriptions_reached,
        cast(flow.subscriptions_reached_previous as integer) as subscriptions_reached_previous,
        cast(flow.subscriptions_reached / nullif(flow.subscriptions_reached_previous, 0) as double) as previous_ratio,
        cast(flow.subscriptions_reached / flow.eligible_subscriptions as double) as first_ratio,
        cast(flow.cancelled_at_delivery as integer) as cancelled_at_delivery,
        cast(flow.pending_at_delivery as integer) as pending_at_delivery,
        {{ as_of_date() }} as as_of_date

    from flow
    inner join cohort_sizes
        on cohort_sizes.source = flow.source
        and cohort_sizes.product_id = flow.product_id
        and cohort_sizes.cohort_month = flow.cohort_month

)

select * from final
