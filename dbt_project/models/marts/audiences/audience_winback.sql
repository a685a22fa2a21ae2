{#- Audience: win-back. Customers who held a 定期契約 and now hold none that is not cancelled
    (no active, paused or unknown-status contract at as_of_date), shown with their last-cancelled
    contract (latest cancellation; ties: latest start), unless its 解約理由 is listed in
    winback_excluded_cancel_reasons (default: the payment failure and complaint labels): a
    決済エラー is a card to update, not a customer to win back, and a complaint is not answered
    with an offer. Clocks count from the contact day, as_of_date + 1. DECISIONLOG.md
    "Audiences: who each campaign may reach". -#}

{%- set contact_day = '(' ~ as_of_date() ~ ' + 1)' -%}
{%- set excluded = var('winback_excluded_cancel_reasons') -%}

with

subscriptions as (

    select * from {{ ref('subscriptions') }}

),

customers as (

    select * from {{ ref('customers') }}

),

-- Customers every one of whose contracts is cancelled.
lapsed_customers as (

    select customer_key
    from subscriptions
    group by customer_key
    having bool_and(status = 'cancelled')

),

last_cancelled as (

    select
        subscriptions.*,
        row_number() over (
            partition by subscriptions.customer_key
            order by subscriptions.cancelled_at desc nulls last, subscriptions.started_at desc,
                subscriptions.source, subscriptions.subscription_id
        ) as cancel_rank

    from subscriptions
    inner join lapsed_customers
        on lapsed_customers.customer_key = subscriptions.customer_key

),

final as (

    select
        last_cancelled.customer_key,
        last_cancelled.source,
        last_cancelled.customer_id,
        last_cancelled.subscription_id,
        {{ audience_contact_columns() }}
        cast(coalesce(customers.lifetime_revenue, 0) as double) as priority_score,
        {{ as_of_date() }} as as_of_date,
        -- clock
        cast(date_diff('day', last_cancelled.cancelled_date, {{ contact_day }}) as integer)
            as days_since_cancelled,
        -- template variables
        last_cancelled.product_name,
        last_cancelled.cancel_reason,
        coalesce(last_cancelled.cancel_reason, '(未記入)') as cancel_reason_label,
        cast(last_cancelled.delivery_count as integer) as delivery_count,
        last_cancelled.cancelled_date

    from last_cancelled
    left join customers
        on customers.customer_key = last_cancelled.customer_key
    where last_cancelled.cancel_rank = 1
        {%- if excluded %}
        -- an unrecorded reason is no exclusion
        and coalesce(last_cancelled.cancel_reason not in ('{{ excluded | join("', '") }}'), true)
        {%- endif %}

)

select * from final
