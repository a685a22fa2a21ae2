{#- 解約予兆 scores: the latest churn hazard fit (model_params.churn_model_*, written by the
    Python asset in orchestration/modeling/churn_hazard.py) applied to the 'current' rows of
    int_subscriptions__churn_features, with the reasons, the expected remaining deliveries and the
    value at stake. When the latest run is a fallback (history too thin to fit) or there is no
    run, the 定期フロー hazard by product x delivery number is the probability. DECISIONLOG.md
    "解約予兆 features and scores" gives every definition and why. The pieces: the run applied
    (int_model_runs__churn_scoring_run), its logit and reasons (int_subscriptions__churn_logit_scores),
    the hazards by product and delivery number (int_products__churn_continuation_hazards) and the
    value of a contract that takes its next delivery (int_products__churn_remaining_value). -#}

with

features as (

    select * from {{ ref('int_subscriptions__churn_features') }}
    where snapshot_kind = 'current'

),

subscriptions as (

    select * from {{ ref('subscriptions') }}

),

orders as (

    select * from {{ ref('orders') }}
    where is_revenue and subscription_id is not null

),

reason_codes as (

    select * from {{ ref('churn_reason_codes') }}

),

score_method as (

    select * from {{ ref('int_model_runs__churn_scoring_run') }}

),

logit_scores as (

    select * from {{ ref('int_subscriptions__churn_logit_scores') }}

),

continuation_hazards as (

    select * from {{ ref('int_products__churn_continuation_hazards') }}

),

position_values as (

    select * from {{ ref('int_products__churn_remaining_value') }}

),

-- ---- probability -------------------------------------------------------------------------

probabilities as (

    select
        features.source,
        features.subscription_id,
        score_method.score_method,
        case
            when score_method.score_method = 'logistic_hazard' then 1 / (1 + exp(-logits.logit))
            else stage_hazard.flow_hazard
        end as probability

    from features
    cross join score_method
    inner join logit_scores as logits
        on logits.source = features.source
        and logits.subscription_id = features.subscription_id
    left join continuation_hazards as stage_hazard
        on stage_hazard.source = features.source
        and stage_hazard.product_id = features.product_id
        and stage_hazard.delivery_number = greatest(features.delivery_number, 1)

),

realised as (

    select
        source,
        subscription_id,
        sum(revenue) as realised_revenue

    from orders
    group by source, subscription_id

),

-- ---- assembly ----------------------------------------------------------------------------

flow_reason as (

    select reason_code, label_ja, label_en
    from reason_codes
    where reason_code = 'flow_hazard_stage'

),

joined as (

    select
        features.*,
        subscriptions.product_name,
        subscriptions.status,
        probabilities.probability,
        probabilities.score_method,
        score_method.model_version,
        score_method.fallback_reason,
        logit_scores.* exclude (source, subscription_id, logit),
        position_values.retention_curve,
        (1 - probabilities.probability) * position_values.deliveries_if_retained as expected_remaining_deliveries,
        position_values.unit_revenue_if_retained * subscriptions.quantity as value_if_retained,
        position_values.unit_margin_if_retained * subscriptions.quantity as margin_if_retained,
        coalesce(realised.realised_revenue, 0) as realised_revenue

    from features
    inner join subscriptions
        on subscriptions.source = features.source
        and subscriptions.subscription_id = features.subscription_id
    inner join probabilities
        on probabilities.source = features.source
        and probabilities.subscription_id = features.subscription_id
    cross join score_method
    left join logit_scores
        on logit_scores.source = features.source
        and logit_scores.subscription_id = features.subscription_id
    left join position_values
        on position_values.source = features.source
        and position_values.product_id = features.product_id
        and position_values.cycle_days = features.f_cycle_days
        and position_values.delivery_number = features.delivery_number
    left join realised
        on realised.source = features.source
        and realised.subscription_id = features.subscription_id

),

final as (

    select
        joined.source,
        joined.subscription_id,
        joined.customer_key,
        joined.customer_id,
        joined.product_id,
        joined.product_name,
        joined.status,
        joined.delivery_number,
        cast(joined.f_cycle_days as integer) as cycle_days,
        cast(joined.f_quantity as integer) as quantity,
        joined.next_delivery_date,
        joined.days_until_next_delivery,
        joined.next_notice_date,
        joined.days_until_next_notice,
        joined.last_cancel_signal_date,
        joined.probability,
        case
            when joined.probability >= {{ var('churn_risk_band_high') }} then 'high'
            when joined.probability >= {{ var('churn_risk_band_medium') }} then 'medium'
            when joined.probability is not null then 'low'
        end as risk_band,
        case
            when joined.probability >= {{ var('churn_risk_band_high') }} then '高'
            when joined.probability >= {{ var('churn_risk_band_medium') }} then '中'
            when joined.probability is not null then '低'
        end as risk_band_ja,
        case when joined.score_method = 'logistic_hazard' then joined.reason_1_code else flow_reason.reason_code end
            as reason_1_code,
        case when joined.score_method = 'logistic_hazard' then joined.reason_1_label_ja else flow_reason.label_ja end
            as reason_1_label_ja,
        case when joined.score_method = 'logistic_hazard' then joined.reason_1_label_en else flow_reason.label_en end
            as reason_1_label_en,
        case when joined.score_method = 'logistic_hazard' then joined.reason_1_contribution end
            as reason_1_contribution,
        {%- for k in [2, 3] %}
        case when joined.score_method = 'logistic_hazard' then joined.reason_{{ k }}_code end as reason_{{ k }}_code,
        case when joined.score_method = 'logistic_hazard' then joined.reason_{{ k }}_label_ja end as reason_{{ k }}_label_ja,
        case when joined.score_method = 'logistic_hazard' then joined.reason_{{ k }}_label_en end as reason_{{ k }}_label_en,
        case when joined.score_method = 'logistic_hazard' then joined.reason_{{ k }}_contribution end
            as reason_{{ k }}_contribution,
        {%- endfor %}
        joined.expected_remaining_deliveries,
        joined.value_if_retained,
        (1 - joined.probability) * joined.value_if_retained as expected_remaining_revenue,
        (1 - joined.probability) * joined.margin_if_retained as expected_remaining_margin,
        joined.probability * joined.value_if_retained as value_at_risk,
        cast(joined.realised_revenue as bigint) as realised_revenue,
        joined.realised_revenue + (1 - joined.probability) * joined.value_if_retained as predicted_ltv,
        joined.retention_curve,
        joined.score_method,
        joined.model_version,
        joined.fallback_reason,
        {{ as_of_date() }} as as_of_date

    from joined
    left join flow_reason on true

)

select * from final
