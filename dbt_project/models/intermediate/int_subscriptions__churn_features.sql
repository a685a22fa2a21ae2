{{ config(materialized='table') }}

{#- 解約予兆 features, point in time: one row per 定期契約 and snapshot. 'opportunity' rows sit on
    the JST date of each revenue 定期 order n and ask "cancelled before order n + 1?" (the label);
    'current' rows sit on the morning after as_of_date for every active or paused contract and
    are what churn_risk_scores scores. Every f_ column only reads facts dated strictly before
    snapshot_date, so a training row never sees its own future (DECISIONLOG.md "解約予兆
    features and scores"). The model fit (Python) and the scoring mart both take exactly the
    columns named f_*: adding a feature = one f_ column here + one row in seed churn_reason_codes. -#}

{%- set payment_methods = churn_payment_methods() -%}
{%- set inquiry_features = churn_inquiry_features() -%}
{%- set lead_days = var('churn_order_lead_days') | int -%}
{%- set notice_days = var('churn_notice_days_before_delivery') | int -%}

{#- The pieces, one grain each: the snapshots themselves, the stage hazard, the plan and the
    plan's changes at each snapshot, the customer's state at each snapshot date. -#}

with

snapshots as (

    select * from {{ ref('int_subscriptions__churn_snapshots') }}

),

stage_hazards as (

    select * from {{ ref('int_subscriptions__stage_hazard_at_snapshot') }}

),

contract_plans as (

    select * from {{ ref('int_subscriptions__plan_state_at_snapshot') }}

),

plan_event_counts as (

    select * from {{ ref('int_subscriptions__plan_event_counts_at_snapshot') }}

),

customer_state as (

    select * from {{ ref('int_customers__churn_state_at_snapshot') }}

),

paid_unit_prices as (

    select * from {{ ref('int_subscriptions__delivery_orders') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions__as_of') }}

),

products as (

    select * from {{ ref('int_products__unioned') }}

),

customers as (

    select * from {{ ref('int_customers__as_of') }}

),

-- The customer's other contracts alive just before the snapshot date (started before it, not
-- cancelled before it).
other_subscriptions as (

    select
        snapshots.source,
        snapshots.subscription_id,
        snapshots.snapshot_kind,
        snapshots.snapshot_date,
        count(*) as other_active_subscriptions

    from snapshots
    inner join subscriptions as others
        on others.customer_key = snapshots.customer_key
        and not (others.source = snapshots.source and others.subscription_id = snapshots.subscription_id)
        and others.started_date < snapshots.snapshot_date
        and coalesce(others.cancelled_date >= snapshots.snapshot_date, true)
    group by all

),

-- ---- assembly ----------------------------------------------------------------------------

joined as (

    -- (source, subscription_id, snapshot_date) is a row's key: opportunity dates are on or
    -- before as_of_date, the current row's is the day after.
    select
        snapshots.*,
        contract_plans.cycle_days,
        contract_plans.quantity,
        case
            when snapshots.snapshot_kind = 'current' then snapshots.exported_next_delivery_date
            -- At order n the cart schedules order n + 1 one cycle later; its delivery follows
            -- after the order lead.
            -- A checkpoint past that date (a skip or a later delivery date was chosen) rolls it on
            -- by whole cycles: the next delivery the customer is still expecting.
            else snapshots.anchor_date + {{ lead_days }} + contract_plans.cycle_days * cast(greatest(
                1,
                ceil(date_diff('day', snapshots.anchor_date + {{ lead_days }}, snapshots.snapshot_date)
                     / contract_plans.cycle_days)
            ) as integer)
        end as next_delivery_date,
        ln(cast(products.price as double) / nullif(paid_unit_prices.paid_unit_price, 0)) as price_step_up,
        plan_event_counts.* exclude (source, subscription_id, snapshot_kind, snapshot_date),
        other_subscriptions.other_active_subscriptions,
        stage_hazards.stage_hazard_to_date,
        customer_state.* exclude (customer_key, snapshot_date),
        customers.email_opt_in,
        customers.line_opt_in,
        customers.dm_opt_in,
        customers.phone_opt_in,
        customers.has_phone

    from snapshots
    inner join contract_plans
        on contract_plans.source = snapshots.source
        and contract_plans.subscription_id = snapshots.subscription_id
        and contract_plans.snapshot_date = snapshots.snapshot_date
    left join products
        on products.source = snapshots.source
        and products.product_id = snapshots.product_id
    left join paid_unit_prices
        on paid_unit_prices.source = snapshots.source
        and paid_unit_prices.subscription_id = snapshots.subscription_id
        and paid_unit_prices.delivery_number = snapshots.delivery_number
    left join plan_event_counts
        on plan_event_counts.source = snapshots.source
        and plan_event_counts.subscription_id = snapshots.subscription_id
        and plan_event_counts.snapshot_date = snapshots.snapshot_date
    left join stage_hazards
        on stage_hazards.source = snapshots.source
        and stage_hazards.subscription_id = snapshots.subscription_id
        and stage_hazards.snapshot_date = snapshots.snapshot_date
    left join other_subscriptions
        on other_subscriptions.source = snapshots.source
        and other_subscriptions.subscription_id = snapshots.subscription_id
        and other_subscriptions.snapshot_date = snapshots.snapshot_date
    left join customer_state
        on customer_state.customer_key = snapshots.customer_key
        and customer_state.snapshot_date = snapshots.snapshot_date
    left join customers
        on customers.customer_key = snapshots.customer_key

),

final as (

    select
        source,
        subscription_id,
        customer_key,
        customer_id,
        product_id,
        snapshot_kind,
        snapshot_date,
        cast(delivery_number as integer) as delivery_number,
        next_delivery_date,
        cast(date_diff('day', snapshot_date, next_delivery_date) as integer) as days_until_next_delivery,
        next_delivery_date - {{ notice_days }} as next_notice_date,
        cast(date_diff('day', snapshot_date, next_delivery_date - {{ notice_days }}) as integer)
            as days_until_next_notice,
        label_cancelled,
        label_resolved_date,
        last_cancel_signal_date,

        -- stage
        cast(delivery_number = 1 as double) as f_delivery_1,
        cast(delivery_number = 2 as double) as f_delivery_2,
        cast(delivery_number = 3 as double) as f_delivery_3,
        ln(greatest(delivery_number, 1)) as f_log_delivery_number,
        -- logit of the 定期フロー hazard of (product, delivery n) known at the snapshot
        ln(stage_hazard_to_date / (1 - stage_hazard_to_date)) as f_stage_hazard_logit,
        -- where the row stands in the cycle: weeks to the next notice mail (clipped to [-1, 9];
        -- unknown = a whole cycle ahead), and whether the notice is out and the order not placed
        least(greatest(coalesce(
            date_diff('day', snapshot_date, next_delivery_date - {{ notice_days }}), cycle_days, 30
        ), -7), 63) / 7.0 as f_weeks_until_next_notice,
        cast(coalesce(date_diff('day', snapshot_date, next_delivery_date - {{ notice_days }}) <= 0, false) as double)
            as f_notice_received,
        -- plan at the snapshot
        cast(coalesce(cycle_days, 0) as double) as f_cycle_days,
        cast(coalesce(quantity, 0) as double) as f_quantity,
        coalesce(date_diff('day', first_order_date, snapshot_date), 0) / 365.0 as f_customer_tenure_years,
        coalesce(price_step_up, 0) as f_price_step_up,
        -- the contract's own changes
        cast(coalesce(skips_30d, 0) as double) as f_skips_30d,
        cast(coalesce(skips_90d, 0) as double) as f_skips_90d,
        cast(coalesce(postpones_30d, 0) as double) as f_postpones_30d,
        cast(coalesce(postpones_90d, 0) as double) as f_postpones_90d,
        cast(coalesce(cycle_lengthened_30d, 0) as double) as f_cycle_lengthened_30d,
        cast(coalesce(cycle_lengthened_90d, 0) as double) as f_cycle_lengthened_90d,
        cast(coalesce(quantity_cut_30d, 0) as double) as f_quantity_cut_30d,
        cast(coalesce(quantity_cut_90d, 0) as double) as f_quantity_cut_90d,
        -- the customer's payments, contacts and visits
        {%- for method in payment_methods %}
        cast(coalesce(payment_failures_{{ method }}_90d, 0) as double) as f_payment_failures_{{ method }}_90d,
        {%- endfor %}
        {%- for name in inquiry_features.keys() | list + ['other'] %}
        cast(coalesce(inquiries_{{ name }}_90d, 0) as double) as f_inquiries_{{ name }}_90d,
        {%- endfor %}
        cast(coalesce(faq_visits_30d, 0) as double) as f_faq_visits_30d,
        cast(coalesce(contact_visits_30d, 0) as double) as f_contact_visits_30d,
        cast(coalesce(cancel_page_visits_30d, 0) as double) as f_cancel_page_visits_30d,
        cast(coalesce(cancel_page_visits_90d, 0) as double) as f_cancel_page_visits_90d,
        cast(coalesce(cancel_signals_7d, 0) as double) as f_cancel_signals_7d,
        -- relationship
        cast(coalesce(other_active_subscriptions, 0) as double) as f_other_active_subscriptions,
        cast(coalesce(oneoff_orders_365d, 0) as double) as f_oneoff_orders_365d,
        cast(coalesce(email_opt_in, false) as double) as f_email_opt_in,
        cast(coalesce(line_opt_in, false) as double) as f_line_opt_in,
        cast(coalesce(dm_opt_in, false) as double) as f_dm_opt_in,
        cast(coalesce(phone_opt_in, false) as double) as f_phone_opt_in,
        cast(coalesce(has_phone, false) as double) as f_has_phone,
        case
            when orders_before >= 3 and median_gap_days > 0
                then date_diff('day', last_order_date, snapshot_date) / median_gap_days - 1
            else 0
        end as f_order_gap_vs_usual

    from joined

)

select * from final
