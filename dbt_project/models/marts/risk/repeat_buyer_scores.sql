{#- One row per one-off customer (単品リピート: a revenue order and no 定期契約 by as_of_date): the
    BG/NBD + Gamma-Gamma predictions of model_params.repeat_buyer_predictions next to the
    customer's own purchase rhythm, with a risk band and up to two reason codes.
    DECISIONLOG.md "Repeat buyers (BG/NBD)". -#}

{#- Thresholds (vars; defaults here, the only model that reads them): P(alive) below
    repeat_low_p_alive_below is the 'high' band and the reason repeat_low_p_alive; below
    repeat_medium_p_alive_below is 'medium'. Overdue when the days since the last purchase exceed
    repeat_overdue_cadence_multiple times the customer's usual gap. -#}
{%- set low_p_alive = var('repeat_low_p_alive_below') -%}
{%- set medium_p_alive = var('repeat_medium_p_alive_below') -%}
{%- set overdue_multiple = var('repeat_overdue_cadence_multiple') -%}

with

summary as (

    select * from {{ ref('int_customers__repeat_purchase_summary') }}
    where summary_kind = 'full'

),

predictions as (

    select * from {{ ref('stg_model_params__repeat_buyer_predictions') }}

),

reason_labels as (

    select * from {{ ref('churn_reason_codes') }}

),

joined as (

    select
        summary.customer_key,
        summary.source,
        summary.first_purchase_date,
        summary.last_purchase_date,
        summary.purchase_days,
        summary.repeat_purchases,
        summary.days_since_last_purchase,
        summary.usual_cadence_days,
        summary.average_repeat_purchase_value,
        predictions.p_alive,
        predictions.expected_purchases_90d,
        predictions.expected_purchases_180d,
        predictions.expected_average_order_value,
        predictions.predicted_clv,
        predictions.clv_horizon_days,
        predictions.purchase_method,
        predictions.spend_method,
        predictions.model_version,
        summary.as_of_date

    from summary
    -- Same business date only: a prediction left from another day's fit is no prediction (the
    -- not_null test on purchase_method then fails loudly).
    left join predictions
        on predictions.customer_key = summary.customer_key
        and predictions.as_of_date = summary.as_of_date

),

flagged as (

    select
        *,
        days_since_last_purchase - usual_cadence_days as days_overdue,
        coalesce(p_alive < {{ low_p_alive }}, false) as is_low_p_alive,
        coalesce(days_since_last_purchase > {{ overdue_multiple }} * usual_cadence_days, false) as is_overdue

    from joined

),

scored as (

    select
        customer_key,
        source,
        first_purchase_date,
        last_purchase_date,
        purchase_days,
        repeat_purchases,
        days_since_last_purchase,
        usual_cadence_days,
        cast(days_overdue as integer) as days_overdue,
        average_repeat_purchase_value,
        p_alive,
        expected_purchases_90d,
        expected_purchases_180d,
        expected_average_order_value,
        predicted_clv,
        clv_horizon_days,
        -- BG/NBD lets a customer drop out only after a repeat purchase, so P(alive) is 1 for
        -- every one-time buyer: a band of their own rather than a reassuring 'low'.
        case
            when repeat_purchases = 0 then 'one_time'
            when p_alive is null then 'unscored'
            when p_alive < {{ low_p_alive }} then 'high'
            when p_alive < {{ medium_p_alive }} then 'medium'
            else 'low'
        end as risk_band,
        case
            when repeat_purchases = 0 then '未リピート'
            when p_alive is null then '判定不可'
            when p_alive < {{ low_p_alive }} then '高'
            when p_alive < {{ medium_p_alive }} then '中'
            else '低'
        end as risk_band_ja,
        case
            when is_low_p_alive then 'repeat_low_p_alive'
            when is_overdue then 'repeat_overdue_vs_own_cadence'
        end as reason_1_code,
        case
            when is_low_p_alive and is_overdue then 'repeat_overdue_vs_own_cadence'
        end as reason_2_code,
        purchase_method,
        spend_method,
        model_version,
        as_of_date

    from flagged

),

final as (

    select
        scored.customer_key,
        scored.source,
        scored.first_purchase_date,
        scored.last_purchase_date,
        scored.purchase_days,
        scored.repeat_purchases,
        scored.days_since_last_purchase,
        scored.usual_cadence_days,
        scored.days_overdue,
        scored.average_repeat_purchase_value,
        scored.p_alive,
        scored.expected_purchases_90d,
        scored.expected_purchases_180d,
        scored.expected_average_order_value,
        scored.predicted_clv,
        scored.clv_horizon_days,
        scored.risk_band,
        scored.risk_band_ja,
        scored.reason_1_code,
        reason_1.label_ja as reason_1_label_ja,
        reason_1.label_en as reason_1_label_en,
        scored.reason_2_code,
        reason_2.label_ja as reason_2_label_ja,
        reason_2.label_en as reason_2_label_en,
        scored.purchase_method,
        scored.spend_method,
        scored.model_version,
        scored.as_of_date

    from scored
    left join reason_labels as reason_1
        on reason_1.reason_code = scored.reason_1_code
    left join reason_labels as reason_2
        on reason_2.reason_code = scored.reason_2_code

)

select * from final
