{#- 解約予兆 scores: the latest churn hazard fit (model_params.churn_model_*, written by the
    Python asset in orchestration/modeling/churn_hazard.py) applied to the 'current' rows of
    int_subscriptions__churn_features, with the reasons, the expected remaining deliveries and the
    value at stake. When the latest run is a fallback (history too thin to fit) or there is no
    run, the 定期フロー hazard by product x delivery number is the probability. DECISIONLOG.md
    "解約予兆 features and scores" gives every definition and why. -#}

{%- set rate_var = var('ltv_discount_rate_per_delivery') | string | trim -%}
{%- set sum_horizon = var('ltv_sum_horizon_deliveries') | int -%}
{%- set deliveries_horizon = var('ltv_expected_deliveries_horizon') | int -%}
{%- set min_at_risk = var('churn_flow_hazard_min_subscriptions') | int -%}
{#- The flow hazard is known for delivery numbers 1 .. (tracked deliveries - 1); beyond it the
    last known value carries on. -#}
{%- set flow_max_n = ([var('subscription_flow_max_deliveries') | int,
                       var('subscription_flow_overall_deliveries') | int] | max) - 1 -%}

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

products as (

    select * from {{ ref('int_products__unioned') }}

),

delivery_chances as (

    select * from {{ ref('int_subscriptions__delivery_chances') }}

),

reason_codes as (

    select * from {{ ref('churn_reason_codes') }}

),

model_runs as (

    select * from {{ source('model_params', 'churn_model_runs') }}

),

model_coefficients as (

    select * from {{ source('model_params', 'churn_model_coefficients') }}

),

sbg_parameters as (

    select * from {{ source('model_params', 'sbg_parameters') }}
    where fit_kind = 'full'

),

-- ---- which model ----------------------------------------------------------------------------

-- The latest fit for a date on or before the business date (a backfill never uses a later one).
latest_run as (

    select
        model_version,
        method,
        fallback_reason

    from model_runs
    where as_of_date <= {{ as_of_date() }}
    order by as_of_date desc, fitted_at desc, model_version desc
    limit 1

),

run_coefficients as (

    select model_coefficients.*
    from model_coefficients
    inner join latest_run
        on latest_run.model_version = model_coefficients.model_version
    where latest_run.method = 'logistic_hazard'

),

score_method as (

    select
        latest_run.model_version,
        case
            when latest_run.method = 'logistic_hazard'
                and exists (select 1 from run_coefficients) then 'logistic_hazard'
            else 'flow_hazard_fallback'
        end as score_method,
        case
            when latest_run.method = 'logistic_hazard'
                and exists (select 1 from run_coefficients) then null
            when latest_run.model_version is null then 'no churn model fitted on or before as_of_date'
            when latest_run.method = 'logistic_hazard' then 'the latest run has no coefficients'
            else coalesce(latest_run.fallback_reason, latest_run.method)
        end as fallback_reason

    from (select 1) as one_row
    left join latest_run on true

),

-- ---- logistic hazard: sum of coefficient x z over the f_ columns -------------------------------

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

-- ---- 定期フロー hazard by product x delivery number (fallback and retention beyond sBG) -------

-- Hazard after delivery n: of the contracts that reached n and had the chance to reach n + 1
-- (the 定期フロー eligibility rule), the share cancelled with exactly n deliveries.
flow_cells as (

    select
        source,
        product_id,
        delivery_number,
        count(*) filter (where reached) as at_risk,
        count(*) filter (where cancelled_at_delivery) as cancelled

    from (
        select
            *,
            lead(is_eligible) over (
                partition by source, subscription_id order by delivery_number
            ) as eligible_for_next
        from delivery_chances
    )
    where eligible_for_next
    group by source, product_id, delivery_number

),

flow_pooled as (

    select
        source,
        delivery_number,
        sum(at_risk) as at_risk,
        sum(cancelled) as cancelled

    from flow_cells
    group by source, delivery_number

),

scored_products as (

    select distinct source, product_id
    from features

),

hazard_grid as (

    select
        scored_products.source,
        scored_products.product_id,
        cast(steps.j as integer) as delivery_number

    from scored_products
    cross join range(1, (select coalesce(max(delivery_number), 0) from features) + {{ sum_horizon }} + 2) as steps(j)

),

flow_hazards as (

    select
        hazard_grid.source,
        hazard_grid.product_id,
        hazard_grid.delivery_number,
        -- The product's own rate where enough contracts were at risk, else every product's of the
        -- source; past the last known delivery number, the last known rate.
        coalesce(
            last_value(
                case
                    when flow_cells.at_risk >= {{ min_at_risk }} then flow_cells.cancelled / flow_cells.at_risk
                    when flow_pooled.at_risk >= {{ min_at_risk }} then flow_pooled.cancelled / flow_pooled.at_risk
                end ignore nulls
            ) over carried,
            first_value(
                case
                    when flow_cells.at_risk >= {{ min_at_risk }} then flow_cells.cancelled / flow_cells.at_risk
                    when flow_pooled.at_risk >= {{ min_at_risk }} then flow_pooled.cancelled / flow_pooled.at_risk
                end ignore nulls
            ) over ahead
        ) as hazard

    from hazard_grid
    left join flow_cells
        on flow_cells.source = hazard_grid.source
        and flow_cells.product_id = hazard_grid.product_id
        and flow_cells.delivery_number = hazard_grid.delivery_number
        and hazard_grid.delivery_number <= {{ flow_max_n }}
    left join flow_pooled
        on flow_pooled.source = hazard_grid.source
        and flow_pooled.delivery_number = hazard_grid.delivery_number
        and hazard_grid.delivery_number <= {{ flow_max_n }}
    window
        carried as (partition by hazard_grid.source, hazard_grid.product_id order by hazard_grid.delivery_number
                    rows between unbounded preceding and current row),
        ahead as (partition by hazard_grid.source, hazard_grid.product_id order by hazard_grid.delivery_number
                  rows between current row and unbounded following)

),

-- Hazard after each delivery used beyond the next one: the product's sBG 'full' fit,
-- alpha / (alpha + beta + n - 1), else the 定期フロー hazard.
continuation_hazards as (

    select
        flow_hazards.source,
        flow_hazards.product_id,
        flow_hazards.delivery_number,
        flow_hazards.hazard as flow_hazard,
        case
            when sbg_parameters.alpha is not null
                then sbg_parameters.alpha / (sbg_parameters.alpha + sbg_parameters.beta + flow_hazards.delivery_number - 1)
            else flow_hazards.hazard
        end as hazard,
        case when sbg_parameters.alpha is not null then 'sbg' else 'flow_hazard' end as retention_curve

    from flow_hazards
    left join sbg_parameters
        on sbg_parameters.source = flow_hazards.source
        and sbg_parameters.product_id = flow_hazards.product_id

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
    inner join logits
        on logits.source = features.source
        and logits.subscription_id = features.subscription_id
    left join continuation_hazards as stage_hazard
        on stage_hazard.source = features.source
        and stage_hazard.product_id = features.product_id
        and stage_hazard.delivery_number = greatest(features.delivery_number, 1)

),

-- ---- expected remaining deliveries and value -----------------------------------------------

positions as (

    select distinct
        features.source,
        features.product_id,
        features.f_cycle_days as cycle_days,
        features.delivery_number

    from features

),

-- For a subscriber at delivery n who takes delivery n + 1: the chance to reach each later
-- delivery m (product of 1 - hazard after n + 1 .. m - 1), and one unit's price at m,
-- discounted per delivery from the next one (as DERL in ltv_projected).
position_terms as (

    select
        positions.source,
        positions.product_id,
        positions.cycle_days,
        positions.delivery_number,
        continuation_hazards.delivery_number as future_delivery,
        continuation_hazards.retention_curve,
        coalesce(product(1 - continuation_hazards.hazard) over (
            partition by positions.source, positions.product_id, positions.cycle_days, positions.delivery_number
            order by continuation_hazards.delivery_number
            rows between unbounded preceding and 1 preceding
        ), 1) as retention_if_next,
        cast(case when continuation_hazards.delivery_number = 1
            then coalesce(products.first_delivery_price, products.price) else products.price end as double)
            as unit_revenue,
        cast(case when continuation_hazards.delivery_number = 1
            then coalesce(products.first_delivery_price, products.price) else products.price end
            - products.unit_cost as double) as unit_margin,
        power(
            1 + {% if rate_var in ('', 'None') -%}
                (power(1 + {{ var('ltv_annual_discount_rate') }}, coalesce(nullif(positions.cycle_days, 0), 30) / 365.0) - 1)
            {%- else -%}
                cast({{ rate_var }} as double)
            {%- endif %},
            continuation_hazards.delivery_number - positions.delivery_number
        ) as discount_factor

    from positions
    inner join continuation_hazards
        on continuation_hazards.source = positions.source
        and continuation_hazards.product_id = positions.product_id
        and continuation_hazards.delivery_number > positions.delivery_number
        and continuation_hazards.delivery_number <= positions.delivery_number + {{ sum_horizon }}
    left join products
        on products.source = positions.source
        and products.product_id = positions.product_id

),

position_values as (

    select
        source,
        product_id,
        cycle_days,
        delivery_number,
        any_value(retention_curve) as retention_curve,
        sum(retention_if_next) filter (
            where future_delivery <= delivery_number + {{ deliveries_horizon }}
        ) as deliveries_if_retained,
        sum(retention_if_next * unit_revenue / discount_factor) as unit_revenue_if_retained,
        sum(retention_if_next * unit_margin / discount_factor) as unit_margin_if_retained

    from position_terms
    group by source, product_id, cycle_days, delivery_number

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
        reasons_wide.* exclude (source, subscription_id),
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
    left join reasons_wide
        on reasons_wide.source = features.source
        and reasons_wide.subscription_id = features.subscription_id
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
