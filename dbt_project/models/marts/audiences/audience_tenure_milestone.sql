{#- Audience: 継続のお礼. Active 定期 contracts whose delivery count has just reached a milestone of
    tenure_milestone_deliveries (default 6 and 12): the contract stays in the audience until its
    next delivery, the clock says how long ago the milestone box was ordered. A customer with
    several keeps the highest milestone, then the most recent one. Clocks count from the
    contact day, as_of_date + 1. DECISIONLOG.md "Audiences: who each campaign may reach". -#}

{%- set contact_day = '(' ~ as_of_date() ~ ' + 1)' -%}
{%- set milestones = var('tenure_milestone_deliveries') -%}

with

subscriptions as (

    select * from {{ ref('subscriptions') }}
    where status = 'active'
        and delivery_count in ({{ milestones | join(', ') }})

),

customers as (

    select * from {{ ref('customers') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_key
            order by delivery_count desc, last_delivery_ordered_date desc nulls last, source, subscription_id
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
        cast(coalesce(customers.lifetime_revenue, 0) as double) as priority_score,
        {{ as_of_date() }} as as_of_date,
        -- clock: the milestone box is the latest revenue order of the contract
        cast(date_diff('day', ranked.last_delivery_ordered_date, {{ contact_day }}) as integer)
            as days_since_milestone_delivery,
        -- template variables
        ranked.product_name,
        cast(ranked.delivery_count as integer) as milestone_delivery,
        ranked.next_delivery_date

    from ranked
    left join customers
        on customers.customer_key = ranked.customer_key
    where ranked.subscription_rank = 1

)

select * from final
