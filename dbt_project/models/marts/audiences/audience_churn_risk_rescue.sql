{#- Audience: 解約予兆 subscribers to rescue. The subscribers of high_risk_customers (their
    riskiest active 定期契約 in a band of high_risk_bands), with the contract to talk about, the
    reasons and the suggested offer as template variables. Contact columns and consent come from
    the customers mart (NULL = unknown, kept NULL: the contact policy treats it as no). Clocks
    count from the contact day, as_of_date + 1 (the morning campaigns send), as
    high_risk_customers does. DECISIONLOG.md "Audiences: who each campaign may reach". -#}

with

high_risk as (

    select * from {{ ref('high_risk_customers') }}
    where customer_segment = 'subscriber'

),

customers as (

    select * from {{ ref('customers') }}

),

final as (

    select
        high_risk.customer_key,
        high_risk.source,
        high_risk.customer_id,
        high_risk.subscription_id,
        {{ audience_contact_columns() }}
        cast(coalesce(high_risk.customer_value_at_risk, 0) as double) as priority_score,
        high_risk.as_of_date,
        -- clock
        high_risk.days_until_next_notice,
        -- template variables
        high_risk.product_name,
        high_risk.delivery_number,
        high_risk.next_delivery_date,
        high_risk.next_notice_date,
        high_risk.risk_band,
        cast(round(high_risk.probability * 100) as integer) as risk_percent,
        high_risk.reasons_ja,
        high_risk.suggested_actions_ja

    from high_risk
    left join customers
        on customers.customer_key = high_risk.customer_key

)

select * from final
