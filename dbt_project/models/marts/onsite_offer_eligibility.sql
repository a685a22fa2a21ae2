{#- On-site pinpoint offers (ヒキアゲール): the 次回お届け予定 notice mail of the 4th box is when a
    subscriber with product left over decides to cancel and opens the FAQ, contact or cancel page.
    One row per active 定期契約 whose next delivery is one of onsite_offer_delivery_numbers, with
    the days the offer may be shown (window_start..window_end, JST dates, both included) and
    whether this customer may see it. The decision service (connectors/onsite_offers) reads the
    eligible rows from the file orchestration/actions/onsite_offers.py publishes, never this table.
    Holdout: the contact policy's stable hash (orchestration/actions/contact_policy.py
    assign_arm), replicated here in SQL. README "On-site offers". -#}

{%- set notice_days = var('churn_notice_days_before_delivery') | int -%}
{%- set order_lead_days = var('churn_order_lead_days') | int -%}
{%- set days_before_notice = var('onsite_offer_days_before_notice') | int -%}
{%- set window_days = var('onsite_offer_window_days') | int -%}
{%- set delivery_numbers = var('onsite_offer_delivery_numbers') -%}
{%- set campaign = var('onsite_offer_campaign') -%}
{%- set holdout_share = var('onsite_offer_holdout_share') | float -%}
{%- set image_url = var('onsite_offer_image_url') -%}
{%- if window_days < 1 -%}
    {{ exceptions.raise_compiler_error("onsite_offer_window_days must be at least 1, got " ~ window_days) }}
{%- endif -%}
{%- if not (0.0 <= holdout_share < 1.0) -%}
    {{ exceptions.raise_compiler_error("onsite_offer_holdout_share must be in [0, 1), got " ~ holdout_share) }}
{%- endif -%}

with

subscriptions as (

    select
        *,
        cast(delivery_count + 1 as integer) as next_delivery_number,
        -- An export without 次回お届け予定日: the cart's rhythm, last order + lead + one cycle.
        coalesce(
            next_delivery_date,
            cast(last_delivery_ordered_date + {{ order_lead_days }} + cycle_days as date)
        ) as expected_delivery_date,
        next_delivery_date is null as is_next_delivery_estimated

    from {{ ref('subscriptions') }}
    where status = 'active'
        and delivery_count + 1 in ({{ delivery_numbers | join(', ') }})

),

customers as (

    select * from {{ ref('customers') }}

),

open_payment_failures as (

    -- A revenue order whose last payment attempt failed and that was never paid: the card needs
    -- updating (a person's job), not a gift.
    select distinct customer_key
    from {{ ref('orders') }}
    where is_revenue
        and not is_paid
        and last_payment_result = 'failure'
        and ordered_date > {{ as_of_date() }} - {{ var('onsite_offer_payment_failure_lookback_days') | int }}

),

offers_received as (

    -- Offers the customer received: accepted on the site, or a monetary offer a campaign sent.
    select customer_key, received_date
    from {{ ref('int_customers__offers_received') }}

),

recent_offers as (

    select distinct customer_key
    from offers_received
    where received_date > {{ as_of_date() }} - {{ var('onsite_offer_repeat_days') | int }}

),

windows as (

    select
        *,
        cast(expected_delivery_date - {{ notice_days }} as date) as next_notice_date,
        cast(expected_delivery_date - {{ notice_days }} - {{ days_before_notice }} as date)
            as window_start

    from subscriptions
    where expected_delivery_date is not null

),

windows_clipped as (

    select
        *,
        -- Never longer than a cycle (a 14-day cycle must not overlap the previous box's window).
        cast(window_start + least({{ window_days }}, greatest(coalesce(cycle_days, 30), 1)) - 1 as date)
            as window_end

    from windows

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_key
            order by window_start, source, subscription_id
        ) as customer_window_rank,
        {{ stable_unit_hash(campaign, 'customer_key') }} as holdout_unit_hash

    from windows_clipped
    where window_end >= {{ as_of_date() }}

),

final as (

    select
        ranked.customer_key,
        ranked.source,
        ranked.customer_id,
        ranked.subscription_id,
        ranked.source || ':' || ranked.subscription_id || ':' || cast(ranked.next_delivery_number as varchar)
            as window_id,
        ranked.product_name,
        cast(ranked.cycle_days as integer) as cycle_days,
        cast(ranked.delivery_count as integer) as delivery_count,
        ranked.next_delivery_number,
        cast(ranked.expected_delivery_date as date) as next_delivery_date,
        ranked.is_next_delivery_estimated,
        ranked.next_notice_date,
        ranked.window_start,
        ranked.window_end,
        cast(date_diff('day', ranked.first_delivery_ordered_date, ranked.window_start) as integer)
            as window_start_days_since_first_order,
        '{{ var('onsite_offer_id') }}' as offer_id,
        replace(
            replace('{{ var('onsite_offer_text') }}', '{delivery_number}', cast(ranked.next_delivery_number as varchar)),
            '{expires_on}', strftime(ranked.window_end, '%-m月%-d日')
        ) as offer_text,
        {% if image_url %}'{{ image_url }}'{% else %}cast(null as varchar){% endif %} as offer_image_url,
        ranked.window_end as offer_expires_on,
        ranked.holdout_unit_hash,
        case
            when open_payment_failures.customer_key is not null then 'payment_failure'
            {% if var('onsite_offer_requires_email_opt_in') %}
            when not coalesce(customers.email_opt_in, false) then 'no_consent'
            {% endif %}
            when recent_offers.customer_key is not null then 'offer_received_recently'
            when ranked.customer_window_rank > 1 then 'another_subscription'
            when ranked.holdout_unit_hash < {{ holdout_share }} then 'holdout'
        end as ineligible_reason,
        {{ as_of_date() }} as as_of_date

    from ranked
    left join customers
        on customers.customer_key = ranked.customer_key
    left join open_payment_failures
        on open_payment_failures.customer_key = ranked.customer_key
    left join recent_offers
        on recent_offers.customer_key = ranked.customer_key

)

select
    customer_key,
    source,
    customer_id,
    subscription_id,
    window_id,
    product_name,
    cycle_days,
    delivery_count,
    next_delivery_number,
    next_delivery_date,
    is_next_delivery_estimated,
    next_notice_date,
    window_start,
    window_end,
    window_start_days_since_first_order,
    offer_id,
    offer_text,
    offer_image_url,
    offer_expires_on,
    holdout_unit_hash,
    ineligible_reason is null as eligible,
    ineligible_reason,
    as_of_date

from final
