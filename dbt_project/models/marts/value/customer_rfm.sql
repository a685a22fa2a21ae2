{#- One row per resolved customer (customer_key) with at least one revenue order on or before
    as_of_date: RFM scores and rank at as_of_date and at the compare date, computed the same way
    from orders on or before each date (no leakage from after the compare date). -#}

{%- set compare_date_var = var('rfm_compare_date') | string | trim -%}
{%- if compare_date_var in ('', 'None') -%}
    {%- set compare_date = "(" ~ as_of_date() ~ " - " ~ var('rfm_compare_days') ~ ")" -%}
{%- else -%}
    {%- set compare_date = "date '" ~ compare_date_var ~ "'" -%}
{%- endif -%}
{%- set buckets = var('rfm_score_buckets') -%}

with

orders as (

    select * from {{ ref('orders') }}
    where is_revenue

),

dates as (

    select 'current' as period, {{ as_of_date() }} as measured_at
    union all
    select 'compare' as period, cast({{ compare_date }} as date) as measured_at

),

facts as (

    select
        dates.period,
        dates.measured_at,
        orders.customer_key,
        arg_min(orders.source, orders.customer_order_number) as source,
        max(orders.ordered_date) as last_order_date,
        date_diff('day', max(orders.ordered_date), dates.measured_at) as recency_days,
        count(*) as frequency,
        sum(orders.revenue) as monetary

    from orders
    inner join dates
        on orders.ordered_date <= dates.measured_at
    group by dates.period, dates.measured_at, orders.customer_key

),

-- Score = bucket of the customer's rank from worst to best; ties share the lowest rank, so equal
-- values always get equal scores: 1 + floor(buckets * (rank - 1) / customers).
scored as (

    select
        *,
        1 + floor({{ buckets }} * (rank() over (partition by period order by recency_days desc) - 1)
            / count(*) over (partition by period)) as recency_score,
        1 + floor({{ buckets }} * (rank() over (partition by period order by frequency) - 1)
            / count(*) over (partition by period)) as frequency_score,
        1 + floor({{ buckets }} * (rank() over (partition by period order by monetary) - 1)
            / count(*) over (partition by period)) as monetary_score

    from facts

),

ranked as (

    select
        *,
        recency_score + frequency_score + monetary_score as rfm_total_score,
        rank() over (
            partition by period
            order by recency_score + frequency_score + monetary_score desc
        ) as rfm_rank

    from scored

),

current_period as (

    select * from ranked where period = 'current'

),

compare_period as (

    select * from ranked where period = 'compare'

),

final as (

    select
        current_period.customer_key,
        current_period.source,
        current_period.last_order_date,
        cast(current_period.recency_days as integer) as recency_days,
        cast(current_period.frequency as integer) as frequency,
        cast(current_period.monetary as bigint) as monetary,
        cast(current_period.recency_score as integer) as recency_score,
        cast(current_period.frequency_score as integer) as frequency_score,
        cast(current_period.monetary_score as integer) as monetary_score,
        cast(current_period.recency_score * 100 + current_period.frequency_score * 10
            + current_period.monetary_score as integer) as rfm_code,
        cast(current_period.rfm_total_score as integer) as rfm_total_score,
        cast(current_period.rfm_rank as integer) as rfm_rank,
        compare_period.measured_at as compare_date,
        compare_period.customer_key is not null as was_customer_at_compare_date,
        cast(compare_period.recency_score as integer) as compare_recency_score,
        cast(compare_period.frequency_score as integer) as compare_frequency_score,
        cast(compare_period.monetary_score as integer) as compare_monetary_score,
        cast(compare_period.rfm_total_score as integer) as compare_rfm_total_score,
        cast(compare_period.rfm_rank as integer) as compare_rfm_rank,
        cast(compare_period.rfm_rank - current_period.rfm_rank as integer) as rfm_rank_change,
        cast(current_period.rfm_total_score - compare_period.rfm_total_score as integer) as rfm_total_score_change,
        current_period.measured_at as as_of_date

    from current_period
    left join compare_period
        on compare_period.customer_key = current_period.customer_key

)

select * from final
