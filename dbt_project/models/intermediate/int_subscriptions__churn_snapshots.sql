{{ config(materialized='table') }}

{#- The rows 解約予兆 is seen from, one per 定期契約 and snapshot: an 'opportunity' on the JST date
    of each revenue 定期 order n (with its label: cancelled before order n + 1?), a 'checkpoint'
    every week after it while that outcome is open, and a 'current' row the morning after
    as_of_date for every active or paused contract. int_subscriptions__churn_features and the
    models it assembles read features as of these rows (DECISIONLOG.md "解約予兆 features and
    scores"). -#}

with

subscriptions as (

    select * from {{ ref('int_subscriptions__as_of') }}

),

delivery_orders as (

    select * from {{ ref('int_subscriptions__delivery_orders') }}

),

opportunity_snapshots as (

    select
        subscriptions.source,
        subscriptions.subscription_id,
        subscriptions.customer_key,
        subscriptions.customer_id,
        subscriptions.product_id,
        'opportunity' as snapshot_kind,
        delivery_orders.ordered_date as snapshot_date,
        delivery_orders.delivery_number,
        cast(null as date) as exported_next_delivery_date,
        case
            when delivery_orders.next_order_date is not null then false
            when subscriptions.status = 'cancelled'
                and subscriptions.cancelled_date >= delivery_orders.ordered_date then true
        end as label_cancelled,
        case
            when delivery_orders.next_order_date is not null then delivery_orders.next_order_date
            when subscriptions.status = 'cancelled'
                and subscriptions.cancelled_date >= delivery_orders.ordered_date
                then subscriptions.cancelled_date
        end as label_resolved_date

    from delivery_orders
    inner join subscriptions
        on subscriptions.source = delivery_orders.source
        and subscriptions.subscription_id = delivery_orders.subscription_id

),

current_snapshots as (

    select
        source,
        subscription_id,
        customer_key,
        customer_id,
        product_id,
        'current' as snapshot_kind,
        {{ as_of_date() }} + 1 as snapshot_date,
        delivery_count as delivery_number,
        next_delivery_date as exported_next_delivery_date,
        cast(null as boolean) as label_cancelled,
        cast(null as date) as label_resolved_date

    from subscriptions
    where status in ('active', 'paused')

),

-- Mid-cycle training rows: the same opportunity seen again every week while its outcome is
-- still open. The order date alone comes ~30 days before most cancellations, before the
-- cancel-page visits and 解約相談 that announce them, so a model trained there could not learn
-- what a fresh signal means; the rows it scores ('current') are mid-cycle. Same label as the
-- opportunity: still "cancelled before order n + 1?".
checkpoint_snapshots as (

    select
        opportunity_snapshots.* replace (
            'checkpoint' as snapshot_kind,
            opportunity_snapshots.snapshot_date + 7 * weeks.week as snapshot_date
        ),
        opportunity_snapshots.snapshot_date as anchor_date

    from opportunity_snapshots
    cross join (select cast(range as integer) as week from range(1, {{ var('churn_checkpoint_max_weeks') | int + 1 }})) as weeks
    -- Still at risk on the checkpoint (not cancelled, no next order yet), and seen by as_of_date.
    where opportunity_snapshots.snapshot_date + 7 * weeks.week
            < coalesce(opportunity_snapshots.label_resolved_date, {{ as_of_date() }} + 1)
        and opportunity_snapshots.snapshot_date + 7 * weeks.week <= {{ as_of_date() }}

),

final as (

    select
        *,
        -- Midnight JST of the snapshot date, in UTC: "strictly before the snapshot date" for
        -- timestamps, which also orders several changes on one day.
        cast(snapshot_date as timestamp) - interval 9 hour as snapshot_start_utc

    from (
        select *, snapshot_date as anchor_date from opportunity_snapshots
        union all
        select * from checkpoint_snapshots
        union all
        select *, cast(null as date) as anchor_date from current_snapshots
    )

)

select * from final
