{#- Points balances at as_of_date, one row per person holding valid points. The per-grant
    arithmetic (oldest-expiring grant consumed first, a grant past its 有効期限 expired even
    without a 失効 row) is int_point_grants__remaining; here it is summed per person, across the
    person's member records. DECISIONLOG.md "Points balances". -#}

with

grants as (

    select * from {{ ref('int_point_grants__remaining') }}

),

events as (

    select * from {{ ref('int_point_events__unioned') }}
    where occurred_date <= {{ as_of_date() }}

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

customers as (

    select * from {{ ref('customers') }}

),

per_customer as (

    select
        customer_key,
        sum(live_points) as points_balance,
        sum(live_points) filter (where days_until_expiry <= 30) as points_expiring_30d,
        sum(live_points) filter (where days_until_expiry <= 60) as points_expiring_60d,
        min(expires_on) filter (where live_points > 0) as next_expiry_date,
        max(granted_date) as last_grant_date

    from grants
    group by customer_key

),

next_expiry as (

    select
        grants.customer_key,
        sum(grants.live_points) as next_expiry_points

    from grants
    inner join per_customer
        on per_customer.customer_key = grants.customer_key
        and per_customer.next_expiry_date = grants.expires_on
    group by grants.customer_key

),

lifetime as (

    select
        identity.customer_key,
        sum(events.points) filter (where events.event_type = 'grant') as granted_points_total,
        sum(events.points) filter (where events.event_type = 'use') as used_points_total,
        sum(events.points) filter (where events.event_type = 'expire') as expired_points_total,
        max(events.occurred_date) filter (where events.event_type = 'use') as last_use_date

    from events
    inner join identity
        on identity.source = events.source
        and identity.customer_id = events.customer_id
    group by identity.customer_key

),

final as (

    select
        per_customer.customer_key,
        customers.source,
        customers.customer_id,
        cast(per_customer.points_balance as integer) as points_balance,
        cast(coalesce(per_customer.points_expiring_30d, 0) as integer) as points_expiring_30d,
        cast(coalesce(per_customer.points_expiring_60d, 0) as integer) as points_expiring_60d,
        per_customer.next_expiry_date,
        cast(next_expiry.next_expiry_points as integer) as next_expiry_points,
        cast(date_diff('day', {{ as_of_date() }}, per_customer.next_expiry_date) as integer)
            as days_until_next_expiry,
        per_customer.last_grant_date,
        lifetime.last_use_date,
        cast(coalesce(lifetime.granted_points_total, 0) as integer) as granted_points_total,
        cast(coalesce(lifetime.used_points_total, 0) as integer) as used_points_total,
        cast(coalesce(lifetime.expired_points_total, 0) as integer) as expired_points_total,
        {{ as_of_date() }} as as_of_date

    from per_customer
    inner join customers
        on customers.customer_key = per_customer.customer_key
    left join next_expiry
        on next_expiry.customer_key = per_customer.customer_key
    left join lifetime
        on lifetime.customer_key = per_customer.customer_key
    where per_customer.points_balance > 0

)

select * from final
