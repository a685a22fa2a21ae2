{#- Audience: new 定期 subscribers for the onboarding steps (使い方・続け方 follow-up between the
    1st and the 3rd box): active contracts with 1 or 2 deliveries. A customer with several keeps
    the earliest-started one, so a step sequence does not jump to a newer contract halfway.
    Clocks count from the contact day, as_of_date + 1. DECISIONLOG.md "Audiences: who each
    campaign may reach". -#}

{%- set contact_day = '(' ~ as_of_date() ~ ' + 1)' -%}

with

subscriptions as (

    select * from {{ ref('subscriptions') }}
    where status = 'active'
        and delivery_count in (1, 2)

),

scores as (

    select * from {{ ref('churn_risk_scores') }}

),

customers as (

    select * from {{ ref('customers') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_key
            order by first_delivery_ordered_date nulls last, started_at, source, subscription_id
        ) as subscription_rank

    from subscriptions

),

final as (

    select
        ranked.customer_key,
        ranked.source,
        ranked.customer_id,
        ranked.subscription_id,
        {{ audience_contact_columns() }}
        cast(coalesce(scores.value_at_risk, 0) as double) as priority_score,
        {{ as_of_date() }} as as_of_date,
        -- clocks
        cast(date_diff('day', ranked.first_delivery_ordered_date, {{ contact_day }}) as integer)
            as days_since_first_delivery,
        cast(date_diff('day', {{ contact_day }}, ranked.next_delivery_date) as integer)
            as days_until_next_delivery,
        cast(ranked.delivery_count as integer) as delivery_count,
        -- template variables
        ranked.product_name,
        ranked.next_delivery_date,
        ranked.cycle_days

    from ranked
    left join scores
        on scores.source = ranked.source
        and scores.subscription_id = ranked.subscription_id
    left join customers
        on customers.customer_key = ranked.customer_key
    where ranked.subscription_rank = 1

)

select * from final
