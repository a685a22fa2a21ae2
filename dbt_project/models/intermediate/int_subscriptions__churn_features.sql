{{ config(materialized='table') }}

{#- 解約予兆 features, point in time: one row per 定期契約 and snapshot. 'opportunity' rows sit on
    the JST date of each revenue 定期 order n and ask "cancelled before order n + 1?" (the label);
    'current' rows sit on the morning after as_of_date for every active or paused contract and
    are what churn_risk_scores scores. Every f_ column only reads facts dated strictly before
    snapshot_date, so a training row never sees its own future (DECISIONLOG.md "解約予兆
    features and scores"). The model fit (Python) and the scoring mart both take exactly the
    columns named f_*: adding a feature = one f_ column here + one row in seed churn_reason_codes. -#}

{%- set payment_methods = ['card', 'deferred', 'convenience_store', 'cash_on_delivery'] -%}
{#- Inquiry categories worth a feature of their own; every other category counts as "other". -#}
{%- set inquiry_features = {
    'cancellation': 'cancellation_request',
    'skin_trouble': 'skin_trouble',
    'dissatisfaction': 'product_dissatisfaction',
    'payment': 'payment',
    'plan_change': 'plan_change',
} -%}
{%- set lead_days = var('churn_order_lead_days') | int -%}
{%- set notice_days = var('churn_notice_days_before_delivery') | int -%}
{#- Pseudo-count of the shrinkage of a product's stage hazard towards all products' (below). -#}
{%- set shrink = var('churn_stage_hazard_prior_weight') | float -%}

with

subscriptions as (

    select * from {{ ref('subscriptions') }}

),

orders as (

    select * from {{ ref('orders') }}
    where is_revenue

),

order_lines as (

    select * from {{ ref('int_order_lines__unioned') }}

),

products as (

    select * from {{ ref('int_products__unioned') }}

),

-- Not cut at as_of_date: only the before/after values of changes are read from later events,
-- to know the cycle and quantity a contract had at a snapshot (the export holds today's).
all_subscription_events as (

    select * from {{ ref('int_subscription_events__unioned') }}

),

payments as (

    select * from {{ ref('int_payments__unioned') }}
    where attempted_date <= {{ as_of_date() }}

),

inquiries as (

    select * from {{ ref('int_inquiries__unioned') }}
    where created_date <= {{ as_of_date() }}
        and customer_id is not null

),

web_events as (

    select * from {{ ref('int_web_events__unioned') }}
    where visited_date <= {{ as_of_date() }}
        and customer_id is not null
        and page_type in ('faq', 'contact', 'cancel')

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

customers as (

    select * from {{ ref('customers') }}

),

-- ---- snapshots ---------------------------------------------------------------------------

-- Revenue 定期 orders numbered per contract: the n-th is delivery n (the rule of the
-- subscriptions mart's delivery_count), with the unit price paid for the contract's product.
subscription_orders as (

    select
        orders.source,
        orders.subscription_id,
        orders.order_id,
        orders.ordered_date,
        row_number() over (
            partition by orders.source, orders.subscription_id
            order by orders.ordered_at, orders.order_id
        ) as delivery_number,
        lead(orders.ordered_date) over (
            partition by orders.source, orders.subscription_id
            order by orders.ordered_at, orders.order_id
        ) as next_order_date

    from orders
    where orders.subscription_id is not null

),

paid_unit_prices as (

    select
        subscription_orders.source,
        subscription_orders.subscription_id,
        subscription_orders.delivery_number,
        sum(order_lines.line_total) / nullif(sum(order_lines.quantity), 0) as paid_unit_price

    from subscription_orders
    inner join subscriptions
        on subscriptions.source = subscription_orders.source
        and subscriptions.subscription_id = subscription_orders.subscription_id
    inner join order_lines
        on order_lines.source = subscription_orders.source
        and order_lines.order_id = subscription_orders.order_id
        and order_lines.product_id = subscriptions.product_id
    group by all

),

opportunity_snapshots as (

    select
        subscriptions.source,
        subscriptions.subscription_id,
        subscriptions.customer_key,
        subscriptions.customer_id,
        subscriptions.product_id,
        'opportunity' as snapshot_kind,
        subscription_orders.ordered_date as snapshot_date,
        subscription_orders.delivery_number,
        cast(null as date) as exported_next_delivery_date,
        case
            when subscription_orders.next_order_date is not null then false
            when subscriptions.status = 'cancelled'
                and subscriptions.cancelled_date >= subscription_orders.ordered_date then true
        end as label_cancelled,
        case
            when subscription_orders.next_order_date is not null then subscription_orders.next_order_date
            when subscriptions.status = 'cancelled'
                and subscriptions.cancelled_date >= subscription_orders.ordered_date
                then subscriptions.cancelled_date
        end as label_resolved_date

    from subscription_orders
    inner join subscriptions
        on subscriptions.source = subscription_orders.source
        and subscriptions.subscription_id = subscription_orders.subscription_id

),

current_snapshots as (

    select
        source,
        subscription_id,
        customer_key,
        customer_id,
        product_id,
        'current' as snapshot_kind,
        {{ as_of_date() }} + 1 as snapshot_date,
        delivery_count as delivery_number,
        next_delivery_date as exported_next_delivery_date,
        cast(null as boolean) as label_cancelled,
        cast(null as date) as label_resolved_date

    from subscriptions
    where status in ('active', 'paused')

),

-- Mid-cycle training rows: the same opportunity seen again every week while its outcome is
-- still open. The order date alone comes ~30 days before most cancellations, before the
-- cancel-page visits and 解約相談 that announce them, so a model trained there could not learn
-- what a fresh signal means; the rows it scores ('current') are mid-cycle. Same label as the
-- opportunity: still "cancelled before order n + 1?".
checkpoint_snapshots as (

    select
        opportunity_snapshots.* replace (
            'checkpoint' as snapshot_kind,
            opportunity_snapshots.snapshot_date + 7 * weeks.week as snapshot_date
        ),
        opportunity_snapshots.snapshot_date as anchor_date

    from opportunity_snapshots
    cross join (select cast(range as integer) as week from range(1, {{ var('churn_checkpoint_max_weeks') | int + 1 }})) as weeks
    -- Still at risk on the checkpoint (not cancelled, no next order yet), and seen by as_of_date.
    where opportunity_snapshots.snapshot_date + 7 * weeks.week
            < coalesce(opportunity_snapshots.label_resolved_date, {{ as_of_date() }} + 1)
        and opportunity_snapshots.snapshot_date + 7 * weeks.week <= {{ as_of_date() }}

),

snapshots as (

    select
        *,
        -- Midnight JST of the snapshot date, in UTC: "strictly before the snapshot date" for
        -- timestamps, which also orders several changes on one day.
        cast(snapshot_date as timestamp) - interval 9 hour as snapshot_start_utc

    from (
        select *, snapshot_date as anchor_date from opportunity_snapshots
        union all
        select * from checkpoint_snapshots
        union all
        select *, cast(null as date) as anchor_date from current_snapshots
    )

),

-- ---- the 定期フロー hazard of the row's cell, as known at the snapshot ---------------------
-- Cancellation rate after delivery n of this product among opportunities whose outcome was
-- known before the snapshot date (so no row sees outcomes from its own future), shrunk towards
-- the rate after delivery n of every product when the cell is thin. It carries what baseline
-- (a) knows (product x delivery number) into the model without a column per product.

resolved_outcomes as (

    select
        source,
        product_id,
        delivery_number,
        label_resolved_date as resolved_date,
        count(*) as resolved,
        count(*) filter (where label_cancelled) as cancelled

    from opportunity_snapshots
    where label_cancelled is not null
    group by all

),

cell_outcomes_to_date as (

    select
        source,
        product_id,
        delivery_number,
        resolved_date,
        sum(resolved) over cell_to_date as resolved_to_date,
        sum(cancelled) over cell_to_date as cancelled_to_date

    from resolved_outcomes
    window cell_to_date as (
        partition by source, product_id, delivery_number
        order by resolved_date
        rows between unbounded preceding and current row
    )

),

stage_outcomes_to_date as (

    select
        delivery_number,
        resolved_date,
        sum(sum(resolved)) over stage_to_date as resolved_to_date,
        sum(sum(cancelled)) over stage_to_date as cancelled_to_date

    from resolved_outcomes
    group by delivery_number, resolved_date
    window stage_to_date as (
        partition by delivery_number
        order by resolved_date
        rows between unbounded preceding and current row
    )

),

stage_hazards as (

    select
        snapshots.source,
        snapshots.subscription_id,
        snapshots.snapshot_date,
        coalesce(cell.resolved_to_date, 0) as cell_resolved,
        coalesce(cell.cancelled_to_date, 0) as cell_cancelled,
        -- Laplace-smoothed rate of delivery n over every product: 0.5 with no history at all.
        (coalesce(stage.cancelled_to_date, 0) + 1.0) / (coalesce(stage.resolved_to_date, 0) + 2.0) as stage_rate

    from snapshots
    asof left join cell_outcomes_to_date as cell
        on cell.source = snapshots.source
        and cell.product_id = snapshots.product_id
        and cell.delivery_number = snapshots.delivery_number
        and cell.resolved_date < snapshots.snapshot_date
    asof left join stage_outcomes_to_date as stage
        on stage.delivery_number = snapshots.delivery_number
        and stage.resolved_date < snapshots.snapshot_date

),

-- ---- contract state at the snapshot (cycle, quantity) -------------------------------------

plan_changes as (

    select
        source,
        subscription_id,
        occurred_at,
        event_type,
        try_cast(regexp_extract(before_value, '[0-9]+') as integer) as value_before,
        try_cast(regexp_extract(after_value, '[0-9]+') as integer) as value_after

    from all_subscription_events
    where event_type in ('cycle_change', 'quantity_change')

),

-- Cycle and quantity before the contract's first change of each: the "before" value of that
-- first change, else the export's value (never changed, so today's is the original).
initial_plans as (

    select
        subscriptions.source,
        subscriptions.subscription_id,
        coalesce(
            arg_min(plan_changes.value_before, plan_changes.occurred_at)
                filter (where plan_changes.event_type = 'cycle_change'),
            any_value(subscriptions.cycle_days)
        ) as cycle_days,
        coalesce(
            arg_min(plan_changes.value_before, plan_changes.occurred_at)
                filter (where plan_changes.event_type = 'quantity_change'),
            any_value(subscriptions.quantity)
        ) as quantity

    from subscriptions
    left join plan_changes
        on plan_changes.source = subscriptions.source
        and plan_changes.subscription_id = subscriptions.subscription_id
    group by subscriptions.source, subscriptions.subscription_id

),

-- The plan after each change, both values carried forward, so one as-of lookup finds the plan
-- in force at any moment.
plan_timeline as (

    select
        plan_changes.source,
        plan_changes.subscription_id,
        plan_changes.occurred_at,
        coalesce(
            last_value(case when plan_changes.event_type = 'cycle_change' then plan_changes.value_after end ignore nulls)
                over carried,
            initial_plans.cycle_days
        ) as cycle_days,
        coalesce(
            last_value(case when plan_changes.event_type = 'quantity_change' then plan_changes.value_after end ignore nulls)
                over carried,
            initial_plans.quantity
        ) as quantity

    from plan_changes
    inner join initial_plans
        on initial_plans.source = plan_changes.source
        and initial_plans.subscription_id = plan_changes.subscription_id
    window carried as (
        partition by plan_changes.source, plan_changes.subscription_id
        order by plan_changes.occurred_at
        rows between unbounded preceding and current row
    )

),

-- The plan in force at the snapshot: after the last change before midnight JST of
-- snapshot_date, else the initial plan. (A narrow row set: an as-of join sorts its left side.)
contract_plans as (

    select
        snapshots.source,
        snapshots.subscription_id,
        snapshots.snapshot_date,
        coalesce(plan_timeline.cycle_days, initial_plans.cycle_days) as cycle_days,
        coalesce(plan_timeline.quantity, initial_plans.quantity) as quantity

    from snapshots
    inner join initial_plans
        on initial_plans.source = snapshots.source
        and initial_plans.subscription_id = snapshots.subscription_id
    asof left join plan_timeline
        on plan_timeline.source = snapshots.source
        and plan_timeline.subscription_id = snapshots.subscription_id
        and plan_timeline.occurred_at < snapshots.snapshot_start_utc

),

-- ---- windowed counts of the contract's own changes ----------------------------------------

plan_events as (

    select
        source,
        subscription_id,
        occurred_date as event_date,
        event_type = 'skip' as is_skip,
        event_type = 'postpone' as is_postpone,
        event_type = 'cycle_change'
            and try_cast(regexp_extract(after_value, '[0-9]+') as integer)
                > try_cast(regexp_extract(before_value, '[0-9]+') as integer) as is_cycle_lengthened,
        event_type = 'quantity_change'
            and try_cast(regexp_extract(after_value, '[0-9]+') as integer)
                < try_cast(regexp_extract(before_value, '[0-9]+') as integer) as is_quantity_cut

    from all_subscription_events
    where occurred_date <= {{ as_of_date() }}
        and event_type in ('skip', 'postpone', 'cycle_change', 'quantity_change')

),

plan_event_counts as (

    select
        snapshots.source,
        snapshots.subscription_id,
        snapshots.snapshot_kind,
        snapshots.snapshot_date,
        {%- for name, flag in [('skips', 'is_skip'), ('postpones', 'is_postpone'),
                               ('cycle_lengthened', 'is_cycle_lengthened'),
                               ('quantity_cut', 'is_quantity_cut')] %}
        {%- for days in [30, 90] %}
        count(*) filter (where plan_events.{{ flag }}
            and plan_events.event_date >= snapshots.snapshot_date - {{ days }}) as {{ name }}_{{ days }}d
        {%- if not loop.last %},{% endif %}
        {%- endfor %}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from snapshots
    inner join plan_events
        on plan_events.source = snapshots.source
        and plan_events.subscription_id = snapshots.subscription_id
        and plan_events.event_date >= snapshots.snapshot_date - 90
        and plan_events.event_date < snapshots.snapshot_date
    group by all

),

-- ---- the customer's events (across sources, by customer_key) -------------------------------

customer_events as (

    select identity.customer_key, web_events.visited_date as event_date, 'web_' || web_events.page_type as kind
    from web_events
    inner join identity
        on identity.source = web_events.source
        and identity.customer_id = web_events.customer_id

    union all

    select
        identity.customer_key,
        inquiries.created_date,
        case
            {%- for name, category in inquiry_features.items() %}
            when inquiries.category = '{{ category }}' then 'inquiry_{{ name }}'
            {%- endfor %}
            else 'inquiry_other'
        end
    from inquiries
    inner join identity
        on identity.source = inquiries.source
        and identity.customer_id = inquiries.customer_id

    union all

    select identity.customer_key, payments.attempted_date, 'payment_failure_' || payments.payment_method
    from payments
    inner join identity
        on identity.source = payments.source
        and identity.customer_id = payments.customer_id
    where payments.result = 'failure'

    union all

    select customer_key, ordered_date, 'oneoff_order'
    from orders
    where subscription_id is null

),

customer_snapshots as (

    select distinct customer_key, snapshot_date
    from snapshots

),

customer_event_counts as (

    select
        customer_snapshots.customer_key,
        customer_snapshots.snapshot_date,
        {%- for method in payment_methods %}
        count(*) filter (where customer_events.kind = 'payment_failure_{{ method }}'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 90)
            as payment_failures_{{ method }}_90d,
        {%- endfor %}
        {%- for name in inquiry_features.keys() | list + ['other'] %}
        count(*) filter (where customer_events.kind = 'inquiry_{{ name }}'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 90)
            as inquiries_{{ name }}_90d,
        {%- endfor %}
        count(*) filter (where customer_events.kind = 'web_faq'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 30) as faq_visits_30d,
        count(*) filter (where customer_events.kind = 'web_contact'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 30) as contact_visits_30d,
        count(*) filter (where customer_events.kind = 'web_cancel'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 30) as cancel_page_visits_30d,
        count(*) filter (where customer_events.kind = 'web_cancel'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 90) as cancel_page_visits_90d,
        -- A fresh signal: cancellations follow their cancel-page visit or 解約相談 by ~5 days.
        count(*) filter (where customer_events.kind in ('web_cancel', 'inquiry_cancellation')
            and customer_events.event_date >= customer_snapshots.snapshot_date - 7) as cancel_signals_7d,
        count(*) filter (where customer_events.kind = 'oneoff_order'
            and customer_events.event_date >= customer_snapshots.snapshot_date - 365) as oneoff_orders_365d,
        -- The cancel-intent signals of int_customers__cancel_signals (cancel-page views and
        -- 解約相談 of identified customers), from the events already read here rather than
        -- typing every page view a second time.
        max(customer_events.event_date) filter (where customer_events.kind in ('web_cancel', 'inquiry_cancellation'))
            as last_cancel_signal_date

    from customer_snapshots
    inner join customer_events
        on customer_events.customer_key = customer_snapshots.customer_key
        and customer_events.event_date < customer_snapshots.snapshot_date
        and (
            customer_events.event_date >= customer_snapshots.snapshot_date - 90
            or customer_events.kind in ('oneoff_order', 'web_cancel', 'inquiry_cancellation')
        )
    group by all

),

-- Gaps between the customer's consecutive revenue orders (any product, any source).
customer_orders as (

    select
        customer_key,
        ordered_date,
        date_diff('day', lag(ordered_date) over (
            partition by customer_key order by ordered_at, source, order_id
        ), ordered_date) as gap_days

    from orders

),

customer_order_history as (

    select
        customer_snapshots.customer_key,
        customer_snapshots.snapshot_date,
        count(*) as orders_before,
        min(customer_orders.ordered_date) as first_order_date,
        max(customer_orders.ordered_date) as last_order_date,
        median(customer_orders.gap_days) as median_gap_days

    from customer_snapshots
    inner join customer_orders
        on customer_orders.customer_key = customer_snapshots.customer_key
        and customer_orders.ordered_date < customer_snapshots.snapshot_date
    group by all

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

-- Everything known about the customer at each snapshot date, one row per (customer, date).
customer_state as (

    select
        customer_snapshots.customer_key,
        customer_snapshots.snapshot_date,
        customer_event_counts.* exclude (customer_key, snapshot_date),
        customer_order_history.* exclude (customer_key, snapshot_date)

    from customer_snapshots
    left join customer_event_counts
        on customer_event_counts.customer_key = customer_snapshots.customer_key
        and customer_event_counts.snapshot_date = customer_snapshots.snapshot_date
    left join customer_order_history
        on customer_order_history.customer_key = customer_snapshots.customer_key
        and customer_order_history.snapshot_date = customer_snapshots.snapshot_date

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
        ({{ shrink }} * stage_hazards.stage_rate + stage_hazards.cell_cancelled)
            / ({{ shrink }} + stage_hazards.cell_resolved) as stage_hazard_to_date,
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
