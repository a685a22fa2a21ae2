{#- One row per chosen decision of the ledger (arm treatment or holdout), team notifications
    (campaigns whose channel is webhook) left out: what became of the customer after the action
    date, for treatment and holdout alike, so the effect marts compare the two.

    Subscription-level contacts (a 定期契約 not cancelled before the action date): retained after
    n = 1, 2, 3 further deliveries = not cancelled before the n-th revenue 定期 order after the
    action date (n = 1: continued to the next delivery). The outcome is decided when the n-th
    order came (true) or the contract was cancelled first (false); it is *observed* once its
    window is over, action_date + n x cycle_days + subscription_flow_grace_days <= as_of_date
    (a contract neither delivered nor cancelled by then, paused or skipping, counts as retained).
    Observation by the clock, not by the outcome: a cancellation is seen sooner than a delivery,
    so counting decided outcomes early would favour whichever arm cancels later.
    Customer-level contacts (no contract, or one already cancelled: win-back): reordered = a
    revenue order within effect_reorder_window_days from the action date, observed once the
    window is over. `continued` is the contact's primary outcome, whichever applies.
    Revenue over 30/90/180 days counts the customer's revenue orders from the action date on
    (N days, the action date included), observed once the N days are over. -#}

{%- set grace = var('subscription_flow_grace_days') -%}
{%- set reorder_days = var('effect_reorder_window_days') -%}
{%- set offer_costs = var('offer_cost_yen') -%}

with

ledger as (

    select * from {{ ref('stg_actions__action_ledger') }}

),

team_notifications as (

    select distinct campaign
    from ledger
    where channel = 'webhook'

),

chosen as (

    select
        ledger.*,
        row_number() over (
            partition by ledger.campaign, ledger.customer_key
            order by ledger.action_date, ledger.step
        ) = 1 as is_first_contact

    from ledger
    where ledger.arm is not null
        and ledger.campaign not in (select campaign from team_notifications)

),

subscriptions as (

    select * from {{ ref('int_subscriptions__as_of') }}

),

delivery_orders as (

    select * from {{ ref('int_subscriptions__delivery_orders') }}

),

orders as (

    select * from {{ ref('int_orders__as_of') }}
    where is_revenue

),

contacts as (

    select
        chosen.*,
        subscriptions.subscription_id is not null
            and (subscriptions.cancelled_date is null
                 or subscriptions.cancelled_date >= chosen.action_date) as is_subscription_contact,
        subscriptions.cancelled_date,
        coalesce(nullif(subscriptions.cycle_days, 0), 30) as cycle_days

    from chosen
    left join subscriptions
        on subscriptions.source = chosen.source
        and subscriptions.subscription_id = chosen.subscription_id

),

-- The 1st, 2nd and 3rd revenue 定期 order of the contract after the action date.
further_deliveries as (

    select
        contacts.campaign,
        contacts.action_date,
        contacts.customer_key,
        contacts.step,
        max(case when ranked.n = 1 then ranked.ordered_date end) as delivery_1_date,
        max(case when ranked.n = 2 then ranked.ordered_date end) as delivery_2_date,
        max(case when ranked.n = 3 then ranked.ordered_date end) as delivery_3_date

    from contacts
    inner join (
        select
            delivery_orders.source,
            delivery_orders.subscription_id,
            delivery_orders.ordered_date,
            contacts.campaign,
            contacts.action_date,
            contacts.customer_key,
            contacts.step,
            row_number() over (
                partition by contacts.campaign, contacts.action_date, contacts.customer_key, contacts.step
                order by delivery_orders.delivery_number
            ) as n
        from contacts
        inner join delivery_orders
            on delivery_orders.source = contacts.source
            and delivery_orders.subscription_id = contacts.subscription_id
            and delivery_orders.ordered_date > contacts.action_date
        where contacts.is_subscription_contact
    ) as ranked
        on ranked.campaign = contacts.campaign
        and ranked.action_date = contacts.action_date
        and ranked.customer_key = contacts.customer_key
        and ranked.step = contacts.step
    where ranked.n <= 3
    group by all

),

customer_revenue as (

    select
        contacts.campaign,
        contacts.action_date,
        contacts.customer_key,
        contacts.step,
        {%- for days in [30, 90, 180] %}
        coalesce(sum(orders.revenue) filter (
            where orders.ordered_date < contacts.action_date + {{ days }}), 0) as revenue_{{ days }}d,
        {%- endfor %}
        count(*) filter (
            where orders.ordered_date < contacts.action_date + {{ reorder_days }}) > 0 as has_reorder

    from contacts
    inner join orders
        on orders.customer_key = contacts.customer_key
        and orders.ordered_date >= contacts.action_date
        and orders.ordered_date < contacts.action_date + 180
    group by all

),

outcomes as (

    select
        contacts.*,
        further_deliveries.delivery_1_date,
        {%- for n in [1, 2, 3] %}
        contacts.action_date + {{ n }} * contacts.cycle_days + {{ grace }} as window_{{ n }}_end,
        {%- endfor %}
        coalesce(customer_revenue.revenue_30d, 0) as revenue_30d,
        coalesce(customer_revenue.revenue_90d, 0) as revenue_90d,
        coalesce(customer_revenue.revenue_180d, 0) as revenue_180d,
        coalesce(customer_revenue.has_reorder, false) as has_reorder,
        {%- for n in [1, 2, 3] %}
        case
            when not contacts.is_subscription_contact then null
            when further_deliveries.delivery_{{ n }}_date is not null then true
            when contacts.cancelled_date is not null
                and contacts.cancelled_date <= contacts.action_date + {{ n }} * contacts.cycle_days + {{ grace }}
                then false
            when contacts.action_date + {{ n }} * contacts.cycle_days + {{ grace }} <= {{ as_of_date() }} then true
        end as retained_{{ n }}{{ "_delivery" if n == 1 else "_deliveries" }},
        {%- endfor %}
        {{ as_of_date() }} as as_of_date

    from contacts
    left join further_deliveries
        on further_deliveries.campaign = contacts.campaign
        and further_deliveries.action_date = contacts.action_date
        and further_deliveries.customer_key = contacts.customer_key
        and further_deliveries.step = contacts.step
    left join customer_revenue
        on customer_revenue.campaign = contacts.campaign
        and customer_revenue.action_date = contacts.action_date
        and customer_revenue.customer_key = contacts.customer_key
        and customer_revenue.step = contacts.step

),

final as (

    select
        campaign,
        action_date,
        cast(date_trunc('month', action_date) as date) as send_month,
        customer_key,
        step,
        source,
        customer_id,
        subscription_id,
        channel,
        arm,
        decision,
        status,
        offer_code,
        monetary_offer,
        accepted_at,
        is_first_contact,
        is_subscription_contact,
        case when is_subscription_contact then 'next_delivery' else 'reorder' end as outcome_kind,
        case when is_subscription_contact then retained_1_delivery
             when action_date + {{ reorder_days - 1 }} <= as_of_date or has_reorder then has_reorder
        end as continued,
        case when is_subscription_contact then window_1_end <= as_of_date
             else action_date + {{ reorder_days - 1 }} <= as_of_date
        end as outcome_observed,
        delivery_1_date as next_delivery_date,
        cancelled_date,
        retained_1_delivery,
        retained_2_deliveries,
        retained_3_deliveries,
        is_subscription_contact and window_1_end <= as_of_date as retained_1_delivery_observed,
        is_subscription_contact and window_2_end <= as_of_date as retained_2_deliveries_observed,
        is_subscription_contact and window_3_end <= as_of_date as retained_3_deliveries_observed,
        cast(revenue_30d as bigint) as revenue_30d,
        cast(revenue_90d as bigint) as revenue_90d,
        cast(revenue_180d as bigint) as revenue_180d,
        action_date + 29 <= as_of_date as revenue_30d_observed,
        action_date + 89 <= as_of_date as revenue_90d_observed,
        action_date + 179 <= as_of_date as revenue_180d_observed,
        cast(case
            when arm = 'treatment' and decision = 'send' then
                {%- if offer_costs %}
                case offer_code
                    {%- for code, yen in offer_costs.items() %}
                    when '{{ code }}' then {{ yen }}
                    {%- endfor %}
                    else 0
                end
                {%- else %} 0
                {%- endif %}
            else 0
        end as bigint) as offer_cost_yen

    from outcomes

)

select * from final
