{{ config(meta={"dagster": {"ref": {"name": "subscription_flow"}}}) }}
{#- 定期フロー: within a row, N_n <= N_(n-1) <= eligible, and the contracts reaching n split into
    cancelled at n, pending at n and gone on to n + 1; across rows of a cohort (or of the 定期推移表),
    N_n never exceeds N_(n-1), because the eligible set only shrinks as n grows. -#}
with

flow as (

    select 'subscription_flow' as mart, source, product_id, cast(cohort_month as varchar) as cohort,
        delivery_number, eligible_subscriptions, subscriptions_reached, subscriptions_reached_previous,
        cancelled_at_delivery, pending_at_delivery
    from {{ ref('subscription_flow') }}
    union all
    select 'subscription_flow_overall', source, product_id, 'all', delivery_number,
        eligible_subscriptions, subscriptions_reached, subscriptions_reached_previous,
        cancelled_at_delivery, pending_at_delivery
    from {{ ref('subscription_flow_overall') }}

),

checked as (

    select
        *,
        lag(subscriptions_reached) over (
            partition by mart, source, product_id, cohort order by delivery_number
        ) as reached_in_previous_row

    from flow

)

select *
from checked
where subscriptions_reached > subscriptions_reached_previous
    or subscriptions_reached_previous > eligible_subscriptions
    or cancelled_at_delivery + pending_at_delivery > subscriptions_reached
    or subscriptions_reached > reached_in_previous_row
    or (delivery_number = 1 and subscriptions_reached <> eligible_subscriptions)
