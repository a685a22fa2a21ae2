{{ config(materialized='table') }}

{#- One row per summary kind and 単品リピート customer: the (x, t_x, T, m_x) summary the BG/NBD and
    Gamma-Gamma models are fitted on (orchestration/modeling/repeat_buyers.py), in days.
    'full' is measured at as_of_date; 'calibration' at as_of_date - repeat_buyer_holdout_days,
    with the one-off purchases the same customer made after it (the holdout check).
    Population at a period end: a customer with a revenue order on or before it and no 定期契約
    (nor 定期 order) started on or before it. DECISIONLOG.md "Repeat buyers (BG/NBD)". -#}

{#- Days between the calibration end and as_of_date (var; default here, the only place it is
    read). Long enough for a one-off rhythm of one to four months to show. -#}
{%- set holdout_days = var('repeat_buyer_holdout_days') -%}

with

orders as (

    select * from {{ ref('int_orders__as_of') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions__as_of') }}

),

periods as (

    select 'full' as summary_kind, {{ as_of_date() }} as period_end_date
    union all
    select
        'calibration' as summary_kind,
        cast({{ as_of_date() }} - interval ({{ holdout_days }}) day as date) as period_end_date

),

first_orders as (

    select customer_key, source
    from orders
    where customer_order_number = 1

),

-- A purchase is a customer's JST day with at least one revenue order: two parcels ordered the
-- same day are one buying occasion, as in the BG/NBD literature (and the demo's add-to-cart
-- splits).
purchase_days as (

    select
        customer_key,
        ordered_date as purchase_date,
        bool_or(subscription_id is null) as has_one_off_order,
        sum(revenue) as revenue

    from orders
    where is_revenue
    group by customer_key, ordered_date

),

-- The day a customer came under contract: the earliest 定期契約 start or 定期 order (any status:
-- a contract whose first box was cancelled is still a contract). From that day the customer
-- belongs to the contractual (hazard) model, whose dropout is observed, not inferred.
subscribed_from as (

    select customer_key, min(subscribed_date) as first_subscribed_date
    from (
        select customer_key, started_date as subscribed_date from subscriptions
        union all
        select customer_key, ordered_date as subscribed_date from orders where subscription_id is not null
    )
    group by customer_key

),

period_purchases as (

    select
        periods.summary_kind,
        periods.period_end_date,
        purchase_days.customer_key,
        purchase_days.purchase_date,
        purchase_days.revenue

    from purchase_days
    inner join periods
        on purchase_days.purchase_date <= periods.period_end_date
    left join subscribed_from
        on subscribed_from.customer_key = purchase_days.customer_key
    where subscribed_from.first_subscribed_date is null
        or subscribed_from.first_subscribed_date > periods.period_end_date

),

sequenced as (

    select
        *,
        row_number() over (
            partition by summary_kind, customer_key order by purchase_date
        ) as purchase_number,
        date_diff(
            'day',
            lag(purchase_date) over (partition by summary_kind, customer_key order by purchase_date),
            purchase_date
        ) as gap_days

    from period_purchases

),

summarized as (

    select
        summary_kind,
        period_end_date,
        customer_key,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        count(*) as purchase_days,
        sum(revenue) filter (where purchase_number = 1) as first_purchase_revenue,
        coalesce(sum(revenue) filter (where purchase_number > 1), 0) as repeat_revenue,
        -- Median, not mean: one long break should not stretch a customer's usual rhythm.
        round(median(gap_days)) as usual_cadence_days

    from sequenced
    group by summary_kind, period_end_date, customer_key

),

-- One-off purchase days after the calibration end, up to as_of_date: what the calibration fit
-- is asked to predict. A 定期 box is not a one-off purchase (a customer who converts leaves
-- the one-off process).
holdout as (

    select
        purchase_days.customer_key,
        count(*) as holdout_repeat_purchases

    from purchase_days
    inner join periods
        on periods.summary_kind = 'calibration'
        and purchase_days.purchase_date > periods.period_end_date
    where purchase_days.has_one_off_order
    group by purchase_days.customer_key

),

final as (

    select
        summarized.summary_kind,
        summarized.period_end_date,
        summarized.customer_key,
        first_orders.source,
        summarized.first_purchase_date,
        summarized.last_purchase_date,
        cast(summarized.purchase_days as integer) as purchase_days,
        cast(summarized.purchase_days - 1 as integer) as repeat_purchases,
        cast(date_diff('day', summarized.first_purchase_date, summarized.last_purchase_date) as integer)
            as days_first_to_last_purchase,
        cast(date_diff('day', summarized.first_purchase_date, summarized.period_end_date) as integer)
            as days_since_first_purchase,
        cast(date_diff('day', summarized.last_purchase_date, summarized.period_end_date) as integer)
            as days_since_last_purchase,
        cast(summarized.first_purchase_revenue as bigint) as first_purchase_revenue,
        cast(summarized.repeat_revenue as bigint) as repeat_revenue,
        summarized.repeat_revenue / nullif(summarized.purchase_days - 1, 0) as average_repeat_purchase_value,
        cast(summarized.usual_cadence_days as integer) as usual_cadence_days,
        case when summarized.summary_kind = 'calibration' then {{ as_of_date() }} end as holdout_end_date,
        case
            when summarized.summary_kind = 'calibration'
                then cast(coalesce(holdout.holdout_repeat_purchases, 0) as integer)
        end as holdout_repeat_purchases,
        {{ as_of_date() }} as as_of_date

    from summarized
    inner join first_orders
        on first_orders.customer_key = summarized.customer_key
    left join holdout
        on holdout.customer_key = summarized.customer_key
        and summarized.summary_kind = 'calibration'

)

select * from final
