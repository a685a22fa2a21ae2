{#- The logistic churn hazard of every scored 定期契約 ('current' rows of
    int_subscriptions__churn_features), one row per contract: logit = intercept + sum of
    coefficient x z over the f_ columns of the run int_model_runs__churn_scoring_run chose, and the
    three features pushing the risk up the most (the reasons). Without a logistic run the logit is
    0 and there are no reasons (churn_risk_scores then uses the 定期フロー hazard). -#}

with

features as (

    select * from {{ ref('int_subscriptions__churn_features') }}
    where snapshot_kind = 'current'

),

scoring_run as (

    select * from {{ ref('int_model_runs__churn_scoring_run') }}

),

model_coefficients as (

    select * from {{ ref('stg_model_params__churn_model_coefficients') }}

),

reason_codes as (

    select * from {{ ref('churn_reason_codes') }}

),

run_coefficients as (

    select model_coefficients.*
    from model_coefficients
    inner join scoring_run
        on scoring_run.model_version = model_coefficients.model_version
    where scoring_run.score_method = 'logistic_hazard'

),

feature_values as (

    select source, subscription_id, term, feature_value
    from (select source, subscription_id, columns('^f_') from features)
    unpivot (feature_value for term in (columns('^f_')))

),

contributions as (

    select
        feature_values.source,
        feature_values.subscription_id,
        feature_values.term,
        -- A feature constant in training has scale 0: it carries no information (z = 0).
        coalesce((feature_values.feature_value - run_coefficients.center) / nullif(run_coefficients.scale, 0), 0)
            as z,
        run_coefficients.coefficient
            * coalesce((feature_values.feature_value - run_coefficients.center) / nullif(run_coefficients.scale, 0), 0)
            as contribution

    from feature_values
    inner join run_coefficients
        on run_coefficients.term = feature_values.term

),

logits as (

    select
        features.source,
        features.subscription_id,
        coalesce((select coefficient from run_coefficients where term = '(intercept)'), 0)
            + coalesce(sum(contributions.contribution), 0) as logit

    from features
    left join contributions
        on contributions.source = features.source
        and contributions.subscription_id = features.subscription_id
    group by features.source, features.subscription_id

),

-- Reasons: features pushing this subscriber's risk up by at least churn_reason_min_contribution
-- on the logit scale, from the side their label describes (seed column label_applies_when),
-- largest push first.
model_reasons as (

    select
        contributions.source,
        contributions.subscription_id,
        reason_codes.reason_code,
        reason_codes.label_ja,
        reason_codes.label_en,
        contributions.contribution,
        row_number() over (
            partition by contributions.source, contributions.subscription_id
            order by contributions.contribution desc, reason_codes.reason_code
        ) as reason_rank

    from contributions
    inner join reason_codes
        on reason_codes.feature = contributions.term
    where contributions.contribution >= {{ var('churn_reason_min_contribution') }}
        and contributions.contribution > 0
        and (
            (reason_codes.label_applies_when = 'high' and contributions.z > 0)
            or (reason_codes.label_applies_when = 'low' and contributions.z < 0)
        )

),

reasons_wide as (

    select
        source,
        subscription_id,
        {%- for k in [1, 2, 3] %}
        any_value(reason_code) filter (where reason_rank = {{ k }}) as reason_{{ k }}_code,
        any_value(label_ja) filter (where reason_rank = {{ k }}) as reason_{{ k }}_label_ja,
        any_value(label_en) filter (where reason_rank = {{ k }}) as reason_{{ k }}_label_en,
        any_value(contribution) filter (where reason_rank = {{ k }}) as reason_{{ k }}_contribution
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from model_reasons
    where reason_rank <= 3
    group by source, subscription_id

),

final as (

    select
        logits.source,
        logits.subscription_id,
        logits.logit,
        reasons_wide.* exclude (source, subscription_id)

    from logits
    left join reasons_wide
        on reasons_wide.source = logits.source
        and reasons_wide.subscription_id = logits.subscription_id

)

select * from final
