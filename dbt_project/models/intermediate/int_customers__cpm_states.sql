{{ config(materialized='table') }}

{#- One row per resolved customer (customer_key) and snapshot date: every month-end from the
    customer's first purchase month up to as_of_date, the snapshot of as_of_date's own month being
    as_of_date itself. The classic CPM state at that date, from revenue orders on or before it
    (DECISIONLOG.md "CPM"): the one place the CPM rule is written. -#}

with

orders as (

    select * from {{ ref('int_orders__as_of') }}
    where is_revenue

),

first_orders as (

    select
        customer_key,
        arg_min(source, customer_order_number) as source,
        min(ordered_date) as first_order_date

    from orders
    group by customer_key

),

snapshots as (

    select
        least(last_day(month_start), {{ as_of_date() }}) as snapshot_date,
        cast(month_start as date) as snapshot_month

    from (
        select unnest(generate_series(
            cast(date_trunc('month', (select min(first_order_date) from first_orders)) as timestamp),
            cast(date_trunc('month', {{ as_of_date() }}) as timestamp),
            interval 1 month
        )) as month_start
    )

),

order_facts as (

    select
        orders.customer_key,
        snapshots.snapshot_date,
        snapshots.snapshot_month,
        min(orders.ordered_date) as first_order_date,
        max(orders.ordered_date) as last_order_date,
        count(*) as order_count,
        sum(orders.revenue) as cumulative_revenue

    from orders
    inner join snapshots
        on orders.ordered_date <= snapshots.snapshot_date
    group by orders.customer_key, snapshots.snapshot_date, snapshots.snapshot_month

),

measured as (

    select
        order_facts.*,
        first_orders.source,
        date_diff('day', order_facts.first_order_date, order_facts.last_order_date) as tenure_days,
        date_diff('day', order_facts.last_order_date, order_facts.snapshot_date) as days_since_last_order

    from order_facts
    inner join first_orders
        on first_orders.customer_key = order_facts.customer_key

),

staged as (

    select
        *,
        case
            when order_count = 1 then 'first'
            when tenure_days < {{ var('cpm_tenure_days_growing') }} then 'growing'
            when cumulative_revenue < {{ var('cpm_spend_yen') }} then 'steady'
            when tenure_days < {{ var('cpm_tenure_days_loyal') }} then 'trendy'
            else 'loyal'
        end as cpm_stage,
        days_since_last_order >= {{ var('cpm_dormant_days') }} as is_dormant

    from measured

),

final as (

    select
        customer_key,
        source,
        snapshot_month,
        snapshot_date,
        first_order_date,
        last_order_date,
        cast(order_count as integer) as order_count,
        cast(cumulative_revenue as bigint) as cumulative_revenue,
        cast(tenure_days as integer) as tenure_days,
        cast(days_since_last_order as integer) as days_since_last_order,
        cpm_stage,
        case cpm_stage
            when 'first' then '初回'
            when 'growing' then 'よちよち'
            when 'steady' then 'コツコツ'
            when 'trendy' then '流行'
            when 'loyal' then '優良'
        end as cpm_stage_label,
        is_dormant,
        cpm_stage || case when is_dormant then '_dormant' else '_active' end as cpm_state,
        case cpm_stage
            when 'first' then '初回'
            when 'growing' then 'よちよち'
            when 'steady' then 'コツコツ'
            when 'trendy' then '流行'
            when 'loyal' then '優良'
        end || case when is_dormant then '離脱' else '現役' end as cpm_state_label

    from staged

)

select * from final
