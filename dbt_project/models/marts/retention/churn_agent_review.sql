{#- One row per source and support agent: do the 定期契約 an agent handled churn more than their
    mix of products and delivery numbers predicts? Indirect standardization over the contracts
    support handled: a contract is the agent's when the agent handled its customer's last inquiry
    while it was alive, not counting the call or mail that accepted the cancellation itself
    (outcome cancellation_accepted); it is followed from n = deliveries received by that inquiry
    to its last stage. Observed = voluntary cancellations; expected = sum over the stages it went
    through of the voluntary cancel rate of the cell (product, delivery number) among all agents'
    contracts. Flagged when observed / expected > agent_churn_ratio_threshold, the Poisson z-score
    of the excess >= agent_churn_min_z and the agent handled >= agent_churn_min_subscriptions
    contracts. DECISIONLOG.md "Churn reasons and agents" gives the reasons. -#}

{%- set involuntary = var('involuntary_cancel_reasons') -%}
{%- set ratio_threshold = var('agent_churn_ratio_threshold') -%}
{%- set min_subscriptions = var('agent_churn_min_subscriptions') | int -%}
{%- set min_z = var('agent_churn_min_z') -%}

with

subscriptions as (

    select
        *,
        status = 'cancelled' and not coalesce(cancel_reason in (
            {%- for reason in involuntary %}'{{ reason }}'{{ ", " if not loop.last }}{% endfor -%}
        ), false) as is_voluntary_cancel

    from {{ ref('subscriptions') }}
    where delivery_count >= 1

),

deliveries as (

    select * from {{ ref('orders') }}
    where is_revenue and subscription_id is not null

),

inquiries as (

    select * from {{ ref('int_inquiries__handled_by_agent') }}
    where created_date <= {{ as_of_date() }}
        and outcome is distinct from 'cancellation_accepted'

),

last_inquiry as (

    select
        subscriptions.source,
        subscriptions.subscription_id,
        any_value(subscriptions.product_id) as product_id,
        any_value(subscriptions.delivery_count) as delivery_count,
        any_value(subscriptions.is_voluntary_cancel) as is_voluntary_cancel,
        arg_max(inquiries.agent, (inquiries.created_at, inquiries.source, inquiries.inquiry_id)) as agent,
        max(inquiries.created_at) as handled_at

    from subscriptions
    inner join inquiries
        on inquiries.customer_key = subscriptions.customer_key
        and inquiries.created_date >= subscriptions.started_date
        and (subscriptions.cancelled_at is null or inquiries.created_at <= subscriptions.cancelled_at)
    group by subscriptions.source, subscriptions.subscription_id

),

handled as (

    select
        last_inquiry.*,
        (
            select count(*) from deliveries
            where deliveries.source = last_inquiry.source
                and deliveries.subscription_id = last_inquiry.subscription_id
                and deliveries.ordered_at <= last_inquiry.handled_at
        ) as handled_delivery_number

    from last_inquiry

),

-- One row per handled contract and stage k it was at risk in: from the inquiry's delivery
-- number to its current (or cancelling) one. The event is a voluntary cancel at stage k.
exposures as (

    select
        handled.source,
        handled.agent,
        handled.subscription_id,
        handled.product_id,
        stages.k as delivery_number,
        handled.is_voluntary_cancel and handled.delivery_count = stages.k as churned

    from handled
    inner join (select cast(range as integer) as k from range(1, 1000)) as stages
        on stages.k between handled.handled_delivery_number and handled.delivery_count
    where handled.handled_delivery_number >= 1

),

-- The benchmark: every agent's handled contracts in the same cell. Contacting support is itself
-- a churn signal, so all contracts would make every agent look worse.
cell_rates as (

    select
        source,
        product_id,
        delivery_number,
        avg(churned::integer) as cancel_rate

    from exposures
    group by all

),

grouped as (

    select
        exposures.source,
        exposures.agent,
        count(distinct exposures.subscription_id) as handled_subscriptions,
        count(*) filter (where exposures.churned) as observed_cancellations,
        sum(cell_rates.cancel_rate) as expected_cancellations

    from exposures
    inner join cell_rates
        on cell_rates.source = exposures.source
        and cell_rates.product_id = exposures.product_id
        and cell_rates.delivery_number = exposures.delivery_number
    group by exposures.source, exposures.agent

),

final as (

    select
        source,
        agent,
        cast(handled_subscriptions as integer) as handled_subscriptions,
        cast(observed_cancellations as integer) as observed_cancellations,
        cast(expected_cancellations as double) as expected_cancellations,
        cast(observed_cancellations / nullif(expected_cancellations, 0) as double) as observed_to_expected,
        cast(
            (observed_cancellations - expected_cancellations) / nullif(sqrt(expected_cancellations), 0)
            as double
        ) as excess_z_score,
        coalesce(
            handled_subscriptions >= {{ min_subscriptions }}
            and observed_cancellations / nullif(expected_cancellations, 0) > {{ ratio_threshold }}
            and (observed_cancellations - expected_cancellations)
                / nullif(sqrt(expected_cancellations), 0) >= {{ min_z }},
            false
        ) as is_flagged,
        {{ as_of_date() }} as as_of_date

    from grouped

)

select * from final
