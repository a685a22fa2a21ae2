{{ config(materialized='table') }}

{#- The 定期契約's own changes in the 30 and 90 days before each 解約予兆 snapshot (スキップ,
    お届け日変更, 周期変更 to a longer cycle, 数量変更 to fewer units): one row per snapshot
    (int_subscriptions__churn_snapshots) that has at least one such event in the 90 days;
    snapshots without any have no row (their counts are 0). -#}

with

subscription_events as (

    select * from {{ ref('int_subscription_events__unioned') }}
    where occurred_date <= {{ as_of_date() }}
        and event_type in ('skip', 'postpone', 'cycle_change', 'quantity_change')

),

snapshots as (

    select * from {{ ref('int_subscriptions__churn_snapshots') }}

),

plan_events as (

    select
        source,
        subscription_id,
        occurred_date as event_date,
        event_type = 'skip' as is_skip,
        event_type = 'postpone' as is_postpone,
        event_type = 'cycle_change'
            and try_cast(regexp_extract(after_value, '[0-9]+') as integer)
                > try_cast(regexp_extract(before_value, '[0-9]+') as integer) as is_cycle_lengthened,
        event_type = 'quantity_change'
            and try_cast(regexp_extract(after_value, '[0-9]+') as integer)
                < try_cast(regexp_extract(before_value, '[0-9]+') as integer) as is_quantity_cut

    from subscription_events

),

final as (

    select
        snapshots.source,
        snapshots.subscription_id,
        snapshots.snapshot_kind,
        snapshots.snapshot_date,
        {%- for name, flag in [('skips', 'is_skip'), ('postpones', 'is_postpone'),
                               ('cycle_lengthened', 'is_cycle_lengthened'),
                               ('quantity_cut', 'is_quantity_cut')] %}
        {%- for days in [30, 90] %}
        count(*) filter (where plan_events.{{ flag }}
            and plan_events.event_date >= snapshots.snapshot_date - {{ days }}) as {{ name }}_{{ days }}d
        {%- if not loop.last %},{% endif %}
        {%- endfor %}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from snapshots
    inner join plan_events
        on plan_events.source = snapshots.source
        and plan_events.subscription_id = snapshots.subscription_id
        and plan_events.event_date >= snapshots.snapshot_date - 90
        and plan_events.event_date < snapshots.snapshot_date
    group by all

)

select * from final
