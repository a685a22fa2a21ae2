{#- Contracts and customers alive at the end of each day, one row per source and JST day from the
    source's first 定期契約 to as_of_date: running sums of the daily changes over a day spine (a
    contract counts from its start day up to the day before its cancellation; a customer counts
    while any of their contracts does). The opening and closing stocks of churn_kpis. -#}

with

subscriptions as (

    select * from {{ ref('int_subscriptions__as_of') }}

),

days as (

    select
        source_ranges.source,
        cast(spine.d as date) as day

    from (
        select source, min(started_date) as first_date
        from subscriptions
        group by source
    ) as source_ranges
    cross join lateral (
        select unnest(generate_series(source_ranges.first_date, {{ as_of_date() }}, interval 1 day)) as d
    ) as spine

),

-- Per customer, the days on which they gain their first alive contract (+1) or lose their last
-- one (-1); a running sum of these over all customers is the active customers at a day's end.
customer_changes as (

    select
        source,
        customer_key,
        change_date,
        sum(delta) as delta

    from (
        select source, customer_key, started_date as change_date, 1 as delta from subscriptions
        union all
        select source, customer_key, greatest(cancelled_date, started_date) as change_date, -1 as delta
        from subscriptions
        where cancelled_date is not null
    )
    group by all

),

customer_alive as (

    select
        source,
        change_date,
        (sum(delta) over w > 0)::integer
            - (coalesce(sum(delta) over w - delta, 0) > 0)::integer as customer_delta

    from customer_changes
    window w as (partition by source, customer_key order by change_date rows unbounded preceding)

),

daily_changes as (

    select
        source,
        change_date,
        sum(started) as started,
        sum(cancelled) as cancelled

    from (
        select source, started_date as change_date, 1 as started, 0 as cancelled
        from subscriptions
        union all
        -- A cancellation dated before the start (bad record) ends the contract on its start day.
        select source, greatest(cancelled_date, started_date) as change_date, 0 as started, 1 as cancelled
        from subscriptions
        where cancelled_date is not null
    )
    group by all

),

daily_customer_changes as (

    select source, change_date, sum(customer_delta) as customer_delta
    from customer_alive
    group by all

),

final as (

    select
        days.source,
        days.day,
        sum(coalesce(daily_changes.started, 0) - coalesce(daily_changes.cancelled, 0)) over w
            as alive_at_end,
        sum(coalesce(daily_customer_changes.customer_delta, 0)) over w as customers_at_end

    from days
    left join daily_changes
        on daily_changes.source = days.source
        and daily_changes.change_date = days.day
    left join daily_customer_changes
        on daily_customer_changes.source = days.source
        and daily_customer_changes.change_date = days.day
    window w as (partition by days.source order by days.day rows unbounded preceding)

)

select * from final
