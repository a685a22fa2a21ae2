{#- 定期推移表: the subscription-unit flow over deliveries 1..subscription_flow_overall_deliveries
    across all cohorts, per product and for all products together ('(all)'). Same eligibility
    rule as subscription_flow (int_subscriptions__delivery_chances), so each row compares
    contracts that all had the chance to reach n. -#}

{%- set max_deliveries = var('subscription_flow_overall_deliveries') | int -%}

with

eligible as (

    select * from {{ ref('int_subscriptions__delivery_chances') }}
    where is_eligible and delivery_number <= {{ max_deliveries }}

),

flow as (

    select
        source,
        coalesce(product_id, '(all)') as product_id,
        case when grouping(product_id) = 1 then '全商品' else any_value(product_name) end as product_name,
        delivery_number,
        count(*) as eligible_subscriptions,
        count(*) filter (where reached) as subscriptions_reached,
        count(*) filter (where reached_previous) as subscriptions_reached_previous,
        count(*) filter (where cancelled_at_delivery) as cancelled_at_delivery,
        count(*) filter (where pending_at_delivery) as pending_at_delivery

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
