{#- 郵送DMでしか届かない顧客の引き止め・呼び戻し. Reachable by postal DM only: DM送付 consent
    (dm_opt_in true) and a full postal address (customers.has_postal_address: 郵便番号, 都道府県,
    住所1), and neither e-mail nor LINE reachable (is_email_reachable / is_line_reachable not
    true: no consent, NULL consent counting as no, or no address / LINE id). Of those, two
    triggers:
    - a high-risk subscriber: on today's call list (high_risk_customers) as a subscriber, i.e.
      the riskiest active 定期契約 in a band of high_risk_bands; days_since_trigger 0 (the trigger
      is today's score);
    - a lapsed subscriber: no active or paused 定期契約, the latest one cancelled between
      postal_dm_rescue_min_days_since_cancel and postal_dm_rescue_max_days_since_cancel days
      ago (inclusive; default 60-180: past the first win-back mails, before the customer is
      lost); days_since_trigger = days since that cancellation.
    A customer matching both (not possible today: the two exclude each other) is listed once,
    as high-risk. DECISIONLOG.md "Postal DM rescue audience". -#}

{%- set min_days = var('postal_dm_rescue_min_days_since_cancel') -%}
{%- set max_days = var('postal_dm_rescue_max_days_since_cancel') -%}

with

customers as (

    select * from {{ ref('customers') }}
    where dm_opt_in is true
        and has_postal_address is true
        and is_email_reachable is not true
        and is_line_reachable is not true

),

high_risk as (

    select * from {{ ref('high_risk_customers') }}
    where customer_segment = 'subscriber'

),

subscriptions as (

    select * from {{ ref('subscriptions') }}

),

latest_cancellations as (

    select
        customer_key,
        max(cancelled_date) as cancelled_date,
        arg_max(subscription_id, cancelled_at) as subscription_id,
        arg_max(product_name, cancelled_at) as product_name,
        arg_max(cancel_reason, cancelled_at) as cancel_reason

    from subscriptions
    where status = 'cancelled'
        and cancelled_date <= {{ as_of_date() }}
    group by customer_key

),

triggers as (

    select
        customer_key,
        1 as trigger_rank,
        subscription_id,
        product_name,
        0 as days_since_trigger,
        case
            when reasons_ja is null then '解約予兆が高い定期会員'
            else '解約予兆が高い定期会員（' || reasons_ja || '）'
        end as reason_ja,
        coalesce(customer_value_at_risk, 0) as priority_score

    from high_risk

    union all

    select
        latest_cancellations.customer_key,
        2 as trigger_rank,
        latest_cancellations.subscription_id,
        latest_cancellations.product_name,
        date_diff('day', latest_cancellations.cancelled_date, {{ as_of_date() }}) as days_since_trigger,
        '定期解約から' || date_diff('day', latest_cancellations.cancelled_date, {{ as_of_date() }}) || '日'
            || coalesce('（解約理由: ' || latest_cancellations.cancel_reason || '）', '') as reason_ja,
        -- one average order, worth less the longer ago the customer left: x1 at the window's
        -- start down to x0.25 at its end
        coalesce(all_customers.lifetime_revenue / nullif(all_customers.order_count, 0), 0)
            * (1 - 0.75 * (date_diff('day', latest_cancellations.cancelled_date, {{ as_of_date() }}) - {{ min_days }})
                / greatest({{ max_days }} - {{ min_days }}, 1)) as priority_score

    from latest_cancellations
    inner join {{ ref('customers') }} as all_customers
        on all_customers.customer_key = latest_cancellations.customer_key
    where not all_customers.is_subscriber
        and date_diff('day', latest_cancellations.cancelled_date, {{ as_of_date() }})
            between {{ min_days }} and {{ max_days }}

),

chosen as (

    select * from triggers
    qualify row_number() over (partition by customer_key order by trigger_rank) = 1

),

final as (

    select
        customers.customer_key,
        customers.source,
        customers.customer_id,
        chosen.subscription_id,
        {{ audience_contact_columns() }}
        cast(chosen.priority_score as double) as priority_score,
        {{ as_of_date() }} as as_of_date,
        cast(chosen.days_since_trigger as integer) as days_since_trigger,
        customers.address1,
        customers.address2,
        chosen.product_name,
        chosen.reason_ja

    from chosen
    inner join customers
        on customers.customer_key = chosen.customer_key

)

select * from final
