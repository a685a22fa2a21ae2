{#- 定期推移表: the subscription-unit flow over deliveries 1..subscription_flow_overall_deliveries
    across all cohorts, per product and for all products together ('(all)'). Same eligibility
    rule as subscription_flow, so each row compares contracts that all had the chance to reach n. -#}

{%- set grace_days = var('subscription_flow_grace_days') | int -%}
{%- set max_deliveries = var('subscription_flow_overall_deliveries') | int -%}

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

flow as (

    select
        source,
        coalesce(product_id, '(all)') as product_id,
        case when grouping(product_id) = 1 then '全商品' else any_value(product_name) end as product_name,
        delivery_number,
        count(*) as eligible_subscriptions,
        count(*) filter (where delivery_count >= delivery_number) as subscriptions_reached,
        count(*) filter (where delivery_count >= delivery_number - 1) as subscriptions_reached_previous,
        count(*) filter (where delivery_count = delivery_number and is_cancelled) as cancelled_at_delivery,
        count(*) filter (where delivery_count = delivery_number and not is_cancelled) as pending_at_delivery

    from eligible
    group by grouping sets ((source, product_id, delivery_number), (source, delivery_number))

),

final as (

    select
        source,
        product_id,
        product_name,
        delivery_number,
        cast(eligible_subscriptions as integer) as eligible_subscriptions,
        cast(subscriptions_reached as integer) as subscriptions_reached,
        cast(subscriptions_reached_previous as integer) as subscriptions_reached_previous,
        cast(subscriptions_reached / nullif(subscriptions_reached_previous, 0) as double) as previous_ratio,
        cast(subscriptions_reached / eligible_subscriptions as double) as first_ratio,
        cast(cancelled_at_delivery as integer) as cancelled_at_delivery,
        cast(pending_at_delivery as integer) as pending_at_delivery,
        {{ as_of_date() }} as as_of_date

    from flow

)

select * from final
