{#- The one place the 定期フロー eligibility rule lives (subscription_flow and the 定期推移表
    subscription_flow_overall both read it): a contract counts at delivery n only if it has had
    the chance to reach n by as_of_date:
    first_delivery_date + (n - 1) x cycle_days + subscription_flow_grace_days <= as_of_date.
    DECISIONLOG.md "Retention marts: 定期フロー" gives the reasons. -#}

{%- set grace_days = var('subscription_flow_grace_days') | int -%}
{%- set max_deliveries = [var('subscription_flow_max_deliveries') | int,
                          var('subscription_flow_overall_deliveries') | int] | max -%}

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

    from {{ ref('int_subscriptions__as_of') }}
    where delivery_count >= 1

),

delivery_numbers as (

    select cast(range as integer) as delivery_number
    from range(1, {{ max_deliveries }} + 1)

),

final as (

    select
        subscriptions.source,
        subscriptions.subscription_id,
        subscriptions.product_id,
        subscriptions.product_name,
        subscriptions.cohort_month,
        delivery_numbers.delivery_number,
        subscriptions.first_delivery_date
            + (delivery_numbers.delivery_number - 1) * subscriptions.cycle_days
            + {{ grace_days }} <= {{ as_of_date() }} as is_eligible,
        subscriptions.delivery_count >= delivery_numbers.delivery_number as reached,
        subscriptions.delivery_count >= delivery_numbers.delivery_number - 1 as reached_previous,
        subscriptions.delivery_count = delivery_numbers.delivery_number
            and subscriptions.is_cancelled as cancelled_at_delivery,
        subscriptions.delivery_count = delivery_numbers.delivery_number
            and not subscriptions.is_cancelled as pending_at_delivery

    from subscriptions
    cross join delivery_numbers

)

select * from final
