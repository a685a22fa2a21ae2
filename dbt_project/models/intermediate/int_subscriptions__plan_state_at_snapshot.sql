{{ config(materialized='table') }}

{#- The plan (お届け周期 and units per delivery) each 定期契約 had at each 解約予兆 snapshot: one
    row per snapshot (int_subscriptions__churn_snapshots), replayed from 周期変更 / 数量変更 events,
    since the export holds only today's plan. -#}

with

subscriptions as (

    select * from {{ ref('int_subscriptions__as_of') }}

),

-- Not cut at as_of_date: only the before/after values of changes are read from later events,
-- to know the cycle and quantity a contract had at a snapshot (the export holds today's).
all_subscription_events as (

    select * from {{ ref('int_subscription_events__unioned') }}

),

snapshots as (

    select * from {{ ref('int_subscriptions__churn_snapshots') }}

),

plan_changes as (

    select
        source,
        subscription_id,
        occurred_at,
        event_type,
        try_cast(regexp_extract(before_value, '[0-9]+') as integer) as value_before,
        try_cast(regexp_extract(after_value, '[0-9]+') as integer) as value_after

    from all_subscription_events
    where event_type in ('cycle_change', 'quantity_change')

),

-- Cycle and quantity before the contract's first change of each: the "before" value of that
-- first change, else the export's value (never changed, so today's is the original).
initial_plans as (

    select
        subscriptions.source,
        subscriptions.subscription_id,
        coalesce(
            arg_min(plan_changes.value_before, plan_changes.occurred_at)
                filter (where plan_changes.event_type = 'cycle_change'),
            any_value(subscriptions.cycle_days)
        ) as cycle_days,
        coalesce(
            arg_min(plan_changes.value_before, plan_changes.occurred_at)
                filter (where plan_changes.event_type = 'quantity_change'),
            any_value(subscriptions.quantity)
        ) as quantity

    from subscriptions
    left join plan_changes
        on plan_changes.source = subscriptions.source
        and plan_changes.subscription_id = subscriptions.subscription_id
    group by subscriptions.source, subscriptions.subscription_id

),

-- The plan after each change, both values carried forward, so one as-of lookup finds the plan
-- in force at any moment.
plan_timeline as (

    select
        plan_changes.source,
        plan_changes.subscription_id,
        plan_changes.occurred_at,
        coalesce(
            last_value(case when plan_changes.event_type = 'cycle_change' then plan_changes.value_after end ignore nulls)
                over carried,
            initial_plans.cycle_days
        ) as cycle_days,
        coalesce(
            last_value(case when plan_changes.event_type = 'quantity_change' then plan_changes.value_after end ignore nulls)
                over carried,
            initial_plans.quantity
        ) as quantity

    from plan_changes
    inner join initial_plans
        on initial_plans.source = plan_changes.source
        and initial_plans.subscription_id = plan_changes.subscription_id
    window carried as (
        partition by plan_changes.source, plan_changes.subscription_id
        order by plan_changes.occurred_at
        rows between unbounded preceding and current row
    )

),

-- The plan in force at the snapshot: after the last change before midnight JST of
-- snapshot_date, else the initial plan. (A narrow row set: an as-of join sorts its left side.)
final as (

    select
        snapshots.source,
        snapshots.subscription_id,
        snapshots.snapshot_kind,
        snapshots.snapshot_date,
        coalesce(plan_timeline.cycle_days, initial_plans.cycle_days) as cycle_days,
        coalesce(plan_timeline.quantity, initial_plans.quantity) as quantity

    from (select source, subscription_id, snapshot_kind, snapshot_date, snapshot_start_utc from snapshots) as snapshots
    inner join initial_plans
        on initial_plans.source = snapshots.source
        and initial_plans.subscription_id = snapshots.subscription_id
    asof left join plan_timeline
        on plan_timeline.source = snapshots.source
        and plan_timeline.subscription_id = snapshots.subscription_id
        and plan_timeline.occurred_at < snapshots.snapshot_start_utc

)

select * from final
