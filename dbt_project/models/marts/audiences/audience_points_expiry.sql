{#- ポイント失効のお知らせ: customers with valid points whose 有効期限 falls within the next
    points_expiry_notice_days days (today included), with what expires, the balance and the
    active 定期 to spend them on. Everyone is listed with their consent flags: the contact
    policy (opt-outs, suppression, holdout) is applied by the action layer. -#}

{%- set notice_days = var('points_expiry_notice_days') -%}

with

grants as (

    select * from {{ ref('int_point_grants__remaining') }}
    where live_points > 0
        and days_until_expiry between 0 and {{ notice_days }}

),

balances as (

    select * from {{ ref('points_balances') }}

),

customers as (

    select * from {{ ref('customers') }}

),

-- The 定期 the points can be spent on: the active one delivering soonest.
active_subscriptions as (

    select
        customer_key,
        arg_min(subscription_id, next_delivery_date) as subscription_id

    from {{ ref('subscriptions') }}
    where status = 'active'
    group by customer_key

),

expiring as (

    select
        customer_key,
        sum(live_points) as points_expiring,
        min(expires_on) as next_expiry_date

    from grants
    group by customer_key

),

final as (

    select
        expiring.customer_key,
        customers.source,
        customers.customer_id,
        active_subscriptions.subscription_id,
        {{ audience_contact_columns() }}
        -- points at stake per day left: many points expiring soon first
        cast(expiring.points_expiring as double)
            / (date_diff('day', {{ as_of_date() }}, expiring.next_expiry_date) + 1) as priority_score,
        {{ as_of_date() }} as as_of_date,
        cast(date_diff('day', {{ as_of_date() }}, expiring.next_expiry_date) as integer) as days_until_points_expire,
        cast(expiring.points_expiring as integer) as points_expiring,
        balances.points_balance,
        expiring.next_expiry_date

    from expiring
    inner join customers
        on customers.customer_key = expiring.customer_key
    inner join balances
        on balances.customer_key = expiring.customer_key
    left join active_subscriptions
        on active_subscriptions.customer_key = expiring.customer_key

)

select * from final
