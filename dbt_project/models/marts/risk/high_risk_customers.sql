{#- The call center's daily 解約予兆 list: customers whose riskiest active 定期契約 is in a band
    of high_risk_bands, each with the subscription to talk about, the reasons and what to offer,
    the last time they contacted us, and a priority. Contact policy (phone opt-out, suppression,
    holdout) is applied downstream in Python (orchestration/actions/), so opted-out customers are
    here with their flags. DECISIONLOG.md "解約予兆 features and scores". -#}

{%- set bands = var('high_risk_bands') -%}
{%- set repeat_bands = var('high_risk_repeat_buyer_bands') -%}
{%- set statuses = ['active', 'paused'] if var('high_risk_include_paused') else ['active'] -%}

with

scores as (

    select * from {{ ref('churn_risk_scores') }}
    where status in ('{{ statuses | join("', '") }}')

),

customers as (

    select * from {{ ref('customers') }}

),

reason_codes as (

    select * from {{ ref('churn_reason_codes') }}

),

inquiries as (

    select * from {{ ref('int_inquiries__unioned') }}
    where created_date <= {{ as_of_date() }}
        and customer_id is not null

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

-- The subscription the agent talks about: the riskiest; on a tie the one whose notice mail
-- comes first (the decision is about to be made).
ranked_scores as (

    select
        *,
        row_number() over (
            partition by customer_key
            order by probability desc nulls last, days_until_next_notice nulls last, source, subscription_id
        ) as risk_rank,
        count(*) over (partition by customer_key) as scored_subscriptions,
        sum(value_at_risk) over (partition by customer_key) as customer_value_at_risk,
        sum(expected_remaining_revenue) over (partition by customer_key) as customer_expected_remaining_revenue

    from scores

),

riskiest_subscriptions as (

    select *, 'subscriber' as customer_segment from ranked_scores
    where risk_rank = 1
        and risk_band in ('{{ bands | join("', '") }}')

),

-- 単品 repeat buyers slipping away (repeat_buyer_scores, BG/NBD): no contract to talk about, so
-- the subscription columns stay empty and "probability" is 1 - P(alive). Value at risk = what
-- the customer is worth if still a customer (predicted CLV / P(alive), P(alive) floored at 0.05
-- so a near-certainly-gone buyer does not blow up) times the chance they are gone.
repeat_buyers as (

    select * from {{ ref('repeat_buyer_scores') }}
    where risk_band in ('{{ repeat_bands | join("', '") }}')
        -- an agent needs something to say: a band alone is no reason to call
        and reason_1_code is not null

),

repeat_buyer_ids as (

    select customer_key, source, min(customer_id) as customer_id
    from identity
    group by all

),

riskiest_repeat_buyers as (

    select
        repeat_buyers.customer_key,
        repeat_buyers.source,
        repeat_buyer_ids.customer_id,
        'repeat_buyer' as customer_segment,
        1 - repeat_buyers.p_alive as probability,
        repeat_buyers.risk_band,
        repeat_buyers.risk_band_ja,
        repeat_buyers.reason_1_code,
        repeat_buyers.reason_1_label_ja,
        repeat_buyers.reason_1_label_en,
        repeat_buyers.reason_2_code,
        repeat_buyers.reason_2_label_ja,
        repeat_buyers.reason_2_label_en,
        1 as scored_subscriptions,
        repeat_buyers.predicted_clv / greatest(repeat_buyers.p_alive, 0.05) * (1 - repeat_buyers.p_alive)
            as customer_value_at_risk,
        repeat_buyers.purchase_method as score_method,
        repeat_buyers.model_version,
        repeat_buyers.as_of_date

    from repeat_buyers
    left join repeat_buyer_ids
        on repeat_buyer_ids.customer_key = repeat_buyers.customer_key
        and repeat_buyer_ids.source = repeat_buyers.source
    where repeat_buyers.p_alive is not null

),

riskiest as (

    select * from riskiest_subscriptions
    union all by name
    select * from riskiest_repeat_buyers

),

last_inquiries as (

    select
        identity.customer_key,
        max(inquiries.created_at) as last_inquiry_at,
        arg_max(inquiries.channel, inquiries.created_at) as last_inquiry_channel,
        arg_max(inquiries.channel_label, inquiries.created_at) as last_inquiry_channel_label,
        arg_max(inquiries.category, inquiries.created_at) as last_inquiry_category,
        arg_max(inquiries.category_label, inquiries.created_at) as last_inquiry_category_label

    from inquiries
    inner join identity
        on identity.source = inquiries.source
        and identity.customer_id = inquiries.customer_id
    where identity.customer_key in (select customer_key from riskiest)
    group by identity.customer_key

),

joined as (

    select
        riskiest.*,
        customers.full_name,
        customers.full_name_kana,
        customers.phone,
        customers.has_phone,
        customers.phone_opt_in,
        customers.is_phone_reachable,
        customers.email,
        customers.email_opt_in,
        customers.is_email_reachable,
        customers.line_opt_in,
        customers.is_line_reachable,
        customers.dm_opt_in,
        {%- for k in [1, 2, 3] %}
        reason_{{ k }}.suggested_action_ja as reason_{{ k }}_action_ja,
        reason_{{ k }}.suggested_action_en as reason_{{ k }}_action_en,
        {%- endfor %}
        last_inquiries.* exclude (customer_key)

    from riskiest
    left join customers
        on customers.customer_key = riskiest.customer_key
    {%- for k in [1, 2, 3] %}
    left join reason_codes as reason_{{ k }}
        on reason_{{ k }}.reason_code = riskiest.reason_{{ k }}_code
    {%- endfor %}
    left join last_inquiries
        on last_inquiries.customer_key = riskiest.customer_key

),

final as (

    select
        cast(row_number() over (
            order by customer_value_at_risk desc nulls last, probability desc, days_until_next_notice nulls last,
                customer_key
        ) as integer) as priority_rank,
        customer_key,
        customer_segment,
        source,
        customer_id,
        full_name,
        full_name_kana,
        phone,
        coalesce(has_phone, false) as has_phone,
        phone_opt_in,
        coalesce(is_phone_reachable, false) as is_phone_reachable,
        email,
        email_opt_in,
        coalesce(is_email_reachable, false) as is_email_reachable,
        line_opt_in,
        coalesce(is_line_reachable, false) as is_line_reachable,
        dm_opt_in,
        subscription_id,
        product_id,
        product_name,
        status,
        delivery_number,
        next_delivery_date,
        days_until_next_delivery,
        next_notice_date,
        days_until_next_notice,
        probability,
        risk_band,
        risk_band_ja,
        {%- for k in [1, 2, 3] %}
        reason_{{ k }}_code,
        reason_{{ k }}_label_ja,
        reason_{{ k }}_label_en,
        reason_{{ k }}_action_ja,
        reason_{{ k }}_action_en,
        {%- endfor %}
        -- What the agent reads and offers, in one cell each (reasons strongest first).
        nullif(concat_ws('、', reason_1_label_ja, reason_2_label_ja, reason_3_label_ja), '') as reasons_ja,
        -- Two reasons may share an action (a cancel-page view and a 解約相談): say it once.
        nullif(concat_ws(
            ' / ',
            reason_1_action_ja,
            case when reason_2_action_ja is distinct from reason_1_action_ja then reason_2_action_ja end,
            case when reason_3_action_ja is distinct from reason_1_action_ja
                and reason_3_action_ja is distinct from reason_2_action_ja then reason_3_action_ja end
        ), '') as suggested_actions_ja,
        last_cancel_signal_date,
        {{ jst_date('last_inquiry_at') }} as last_inquiry_date,
        last_inquiry_at,
        last_inquiry_channel,
        last_inquiry_channel_label,
        last_inquiry_category,
        last_inquiry_category_label,
        cast(scored_subscriptions as integer) as scored_subscriptions,
        value_at_risk as subscription_value_at_risk,
        customer_value_at_risk,
        customer_expected_remaining_revenue,
        score_method,
        model_version,
        as_of_date

    from joined

)

select * from final
