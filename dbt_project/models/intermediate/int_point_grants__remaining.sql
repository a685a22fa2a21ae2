{#- What is left of each points grant (付与) at as_of_date. Uses and expiries (利用, 失効) up to
    as_of_date consume a customer record's grants oldest-expiring first (carts spend the points
    that expire soonest, and a 失効 is what is left of the oldest grant), so the remaining points of
    a grant are its amount minus the part of the consumed total that reaches it:
    clamp(cumulative grants up to it - consumed, 0, amount). A grant past its 有効期限 counts as
    expired even when the cart has not written its 失効 yet (live_points 0). DECISIONLOG.md
    "Points balances". -#}

with

events as (

    select * from {{ ref('int_point_events__unioned') }}
    where occurred_date <= {{ as_of_date() }}

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

grants as (

    select * from events
    where event_type = 'grant'

),

consumed as (

    select
        source,
        customer_id,
        sum(points) as consumed_points

    from events
    where event_type in ('use', 'expire')
    group by source, customer_id

),

cumulated as (

    select
        grants.*,
        sum(grants.points) over (
            partition by grants.source, grants.customer_id
            order by grants.expires_on nulls last, grants.occurred_at, grants.point_event_id
            rows between unbounded preceding and current row
        ) as cumulative_points,
        coalesce(consumed.consumed_points, 0) as consumed_points

    from grants
    left join consumed
        on consumed.source = grants.source
        and consumed.customer_id = grants.customer_id

),

final as (

    select
        cumulated.source,
        cumulated.customer_id,
        identity.customer_key,
        cumulated.point_event_id,
        cumulated.order_id,
        cumulated.occurred_date as granted_date,
        cumulated.expires_on,
        cast(cumulated.points as bigint) as granted_points,
        cast(greatest(0, least(cumulated.points, cumulated.cumulative_points - cumulated.consumed_points))
            as bigint) as remaining_points,
        cast(case
            when cumulated.expires_on is null or cumulated.expires_on >= {{ as_of_date() }}
                then greatest(0, least(cumulated.points, cumulated.cumulative_points - cumulated.consumed_points))
            else 0
        end as bigint) as live_points,
        cast(date_diff('day', {{ as_of_date() }}, cumulated.expires_on) as integer) as days_until_expiry

    from cumulated
    inner join identity
        on identity.source = cumulated.source
        and identity.customer_id = cumulated.customer_id

)

select * from final
