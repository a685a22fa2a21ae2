{#- One row per source, period grain ('day' or 'month') and period (JST dates) from the first
    定期契約 to as_of_date: contracts alive at the start, new, cancelled, 月次解約率 and 継続率,
    voluntary vs involuntary churn, repeat rate and active customers. A contract is alive at the
    end of day d when started_date <= d and it is not cancelled by d (paused counts as alive).
    Churn rates count only contracts alive at the period's start, so they stay between 0 and 1. -#}

{%- set involuntary = var('involuntary_cancel_reasons') -%}

with

subscriptions as (

    select
        *,
        coalesce(cancel_reason in (
            {%- for reason in involuntary %}'{{ reason }}'{{ ", " if not loop.last }}{% endfor -%}
        ), false) as is_involuntary

    from {{ ref('subscriptions') }}

),

orders as (

    select * from {{ ref('orders') }}
    where is_revenue

),

-- Contracts and customers alive at the end of each day.
daily_stocks as (

    select * from {{ ref('int_subscriptions__daily_stocks') }}

),

source_ranges as (

    select source, min(started_date) as first_date
    from subscriptions
    group by source

),

periods as (

    select
        source_ranges.source,
        'day' as period_grain,
        cast(days.d as date) as period_start,
        cast(days.d as date) as period_end,
        false as is_partial_period

    from source_ranges
    cross join lateral (
        select unnest(generate_series(source_ranges.first_date, {{ as_of_date() }}, interval 1 day)) as d
    ) as days

    union all

    select
        source_ranges.source,
        'month' as period_grain,
        cast(months.m as date) as period_start,
        least(last_day(cast(months.m as date)), {{ as_of_date() }}) as period_end,
        last_day(cast(months.m as date)) > {{ as_of_date() }} as is_partial_period

    from source_ranges
    cross join lateral (
        select unnest(generate_series(
            cast(date_trunc('month', source_ranges.first_date) as date),
            cast(date_trunc('month', {{ as_of_date() }}) as date),
            interval 1 month
        )) as m
    ) as months

),

-- Each contract's start and cancellation placed in its day and its month (equality joins, so
-- the cost grows with contracts, not contracts x periods).
grains as (

    select * from (values ('day'), ('month')) as t(period_grain)

),

subscription_periods as (

    select
        subscriptions.source,
        grains.period_grain,
        subscriptions.started_date,
        subscriptions.cancelled_date,
        subscriptions.is_involuntary,
        case when grains.period_grain = 'day' then subscriptions.started_date
            else cast(date_trunc('month', subscriptions.started_date) as date) end as start_period,
        case when grains.period_grain = 'day' then subscriptions.cancelled_date
            else cast(date_trunc('month', subscriptions.cancelled_date) as date) end as cancel_period

    from subscriptions
    cross join grains

),

new_counts as (

    select
        source,
        period_grain,
        start_period as period_start,
        count(*) as new_subscriptions

    from subscription_periods
    group by all

),

cancel_counts as (

    select
        source,
        period_grain,
        cancel_period as period_start,
        count(*) as cancelled_subscriptions,
        count(*) filter (where started_date < cancel_period) as churned_subscriptions,
        count(*) filter (where started_date < cancel_period and not is_involuntary)
            as voluntary_churned_subscriptions,
        count(*) filter (where started_date < cancel_period and is_involuntary)
            as involuntary_churned_subscriptions

    from subscription_periods
    where cancelled_date is not null
    group by all

),

period_counts as (

    select
        periods.source,
        periods.period_grain,
        periods.period_start,
        new_counts.new_subscriptions,
        cancel_counts.cancelled_subscriptions,
        cancel_counts.churned_subscriptions,
        cancel_counts.voluntary_churned_subscriptions,
        cancel_counts.involuntary_churned_subscriptions

    from periods
    left join new_counts
        on new_counts.source = periods.source
        and new_counts.period_grain = periods.period_grain
        and new_counts.period_start = periods.period_start
    left join cancel_counts
        on cancel_counts.source = periods.source
        and cancel_counts.period_grain = periods.period_grain
        and cancel_counts.period_start = periods.period_start

),

stocks as (

    select
        periods.source,
        periods.period_grain,
        periods.period_start,
        coalesce(opening.alive_at_end, 0) as active_subscriptions_at_start,
        closing.alive_at_end as active_subscriptions_at_end,
        closing.customers_at_end as active_customers

    from periods
    left join daily_stocks as opening
        on opening.source = periods.source
        and opening.day = periods.period_start - 1
    inner join daily_stocks as closing
        on closing.source = periods.source
        and closing.day = periods.period_end

),

buyers as (

    select
        orders.source,
        grains.period_grain,
        case when grains.period_grain = 'day' then orders.ordered_date
            else cast(date_trunc('month', orders.ordered_date) as date) end as period_start,
        count(distinct orders.customer_key) as ordering_customers,
        count(distinct orders.customer_key) filter (where orders.customer_order_number >= 2) as repeat_customers

    from orders
    cross join grains
    group by all

),

final as (

    select
        periods.source,
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.is_partial_period,
        cast(stocks.active_subscriptions_at_start as integer) as active_subscriptions_at_start,
        cast(coalesce(period_counts.new_subscriptions, 0) as integer) as new_subscriptions,
        cast(coalesce(period_counts.cancelled_subscriptions, 0) as integer) as cancelled_subscriptions,
        cast(coalesce(period_counts.churned_subscriptions, 0) as integer) as churned_subscriptions,
        cast(coalesce(period_counts.voluntary_churned_subscriptions, 0) as integer) as voluntary_churned_subscriptions,
        cast(coalesce(period_counts.involuntary_churned_subscriptions, 0) as integer) as involuntary_churned_subscriptions,
        cast(stocks.active_subscriptions_at_end as integer) as active_subscriptions_at_end,
        cast(coalesce(period_counts.churned_subscriptions, 0)
            / nullif(stocks.active_subscriptions_at_start, 0) as double) as churn_rate,
        cast(1 - coalesce(period_counts.churned_subscriptions, 0)
            / nullif(stocks.active_subscriptions_at_start, 0) as double) as retention_rate,
        cast(coalesce(period_counts.voluntary_churned_subscriptions, 0)
            / nullif(stocks.active_subscriptions_at_start, 0) as double) as voluntary_churn_rate,
        cast(coalesce(period_counts.involuntary_churned_subscriptions, 0)
            / nullif(stocks.active_subscriptions_at_start, 0) as double) as involuntary_churn_rate,
        cast(coalesce(buyers.ordering_customers, 0) as integer) as ordering_customers,
        cast(coalesce(buyers.repeat_customers, 0) as integer) as repeat_customers,
        cast(buyers.repeat_customers / nullif(buyers.ordering_customers, 0) as double) as repeat_rate,
        cast(stocks.active_customers as integer) as active_customers,
        {{ as_of_date() }} as as_of_date

    from periods
    inner join stocks
        on stocks.source = periods.source
        and stocks.period_grain = periods.period_grain
        and stocks.period_start = periods.period_start
    left join period_counts
        on period_counts.source = periods.source
        and period_counts.period_grain = periods.period_grain
        and period_counts.period_start = periods.period_start
    left join buyers
        on buyers.source = periods.source
        and buyers.period_grain = periods.period_grain
        and buyers.period_start = periods.period_start

)

select * from final
