{#- Audience: subscribers who showed cancel intent (cancel_signal_subscribers: a 定期 cancel-page
    view or a 解約相談 within cancel_signal_days) and whose contract shown there (the one whose next
    box ships soonest) is in a band of high_risk_bands in churn_risk_scores: the save offer
    before the cancellation goes through. Clocks count from the contact day, as_of_date + 1.
    DECISIONLOG.md "Audiences: who each campaign may reach". -#}

{%- set contact_day = '(' ~ as_of_date() ~ ' + 1)' -%}
{%- set bands = var('high_risk_bands') -%}

with

signals as (

    select * from {{ ref('cancel_signal_subscribers') }}

),

scores as (

    select * from {{ ref('churn_risk_scores') }}
    where risk_band in ('{{ bands | join("', '") }}')

),

customers as (

    select * from {{ ref('customers') }}

),

final as (

    select
        signals.customer_key,
        signals.source,
        signals.customer_id,
        signals.subscription_id,
        {{ audience_contact_columns() }}
        cast(coalesce(scores.value_at_risk, 0) as double) as priority_score,
        {{ as_of_date() }} as as_of_date,
        -- clock
        cast(date_diff('day', {{ jst_date('signals.last_signal_at') }}, {{ contact_day }}) as integer)
            as days_since_signal,
        -- template variables
        signals.product_name,
        signals.delivery_count as delivery_number,
        signals.next_delivery_date,
        signals.signal_reason,
        scores.risk_band,
        scores.probability as churn_probability

    from signals
    inner join scores
        on scores.source = signals.source
        and scores.subscription_id = signals.subscription_id
    left join customers
        on customers.customer_key = signals.customer_key

)

select * from final
