{#- 定期フロー: how a first-delivery cohort of 定期契約 thins out delivery by delivery, per product.
    Who counts at delivery n (the eligibility rule) is int_subscriptions__delivery_chances;
    DECISIONLOG.md "Retention marts: 定期フロー" gives the reasons. -#}

{%- set max_deliveries = var('subscription_flow_max_deliveries') | int -%}

with

chances as (

    select * from {{ ref('int_subscriptions__delivery_chances') }}
    where delivery_number <= {{ max_deliveries }}

),

cohort_sizes as (

    -- Every contract of the cohort, whatever its eligibility at n.
    select
        source,
        product_id,
        cohort_month,
        count(distinct subscription_id) as cohort_subscriptions

    from chances
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
        count(*) filter (where reached) as subscriptions_reached,
        count(*) filter (where reached_previous) as subscriptions_reached_previous,
        count(*) filter (where cancelled_at_delivery) as cancelled_at_delivery,
        count(*) filter (where pending_at_delivery) as pending_at_delivery

    from chances
    where is_eligible
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
