{#- Audience: the 余り problem. Active 定期 contracts whose next delivery is number 2, 3 or 4,
    where most customers cancel (stock piles up before the 2nd-4th box, the 縛り ends after the
    3rd): a follow-up before the 次回お届け予定 notice mail, around which they decide. A customer
    with several keeps the one whose notice mail comes first. The cancel probability and value at
    risk come from churn_risk_scores. Clocks count from the contact day, as_of_date + 1, as
    churn_risk_scores does. DECISIONLOG.md "Audiences: who each campaign may reach". -#}

{%- set contact_day = '(' ~ as_of_date() ~ ' + 1)' -%}
{%- set notice_days = var('churn_notice_days_before_delivery') | int -%}

with

subscriptions as (

    select
        *,
        next_delivery_date - {{ notice_days }} as next_notice_date
    from {{ ref('subscriptions') }}
    where status = 'active'
        and delivery_count + 1 in (2, 3, 4)

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
            order by next_notice_date nulls last, source, subscription_id
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
        -- clock
        cast(date_diff('day', {{ contact_day }}, ranked.next_notice_date) as integer)
            as days_until_next_notice,
        -- template variables
        ranked.product_name,
        cast(ranked.delivery_count + 1 as integer) as next_delivery_number,
        ranked.next_delivery_date,
        ranked.next_notice_date,
        ranked.cycle_days,
        scores.probability as churn_probability,
        scores.risk_band

    from ranked
    left join scores
        on scores.source = ranked.source
        and scores.subscription_id = ranked.subscription_id
    left join customers
        on customers.customer_key = ranked.customer_key
    where ranked.subscription_rank = 1

)

select * from final
