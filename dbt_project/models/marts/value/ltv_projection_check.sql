{#- One row per source, 定期 product and delivery number (1 .. ltv_projected_max_delivery): how
    the sBG projection fitted only on the first calibration_deliveries deliveries of older
    subscriptions (fit_kind 'calibration') compares with what those same subscriptions actually
    did (Kaplan-Meier survival over their full history to as_of_date). Rows past the calibration
    deliveries are the out-of-sample check. -#}

{%- set max_n = var('ltv_projected_max_delivery') -%}

with

parameters as (

    select * from {{ ref('stg_model_params__sbg_parameters') }}
    where fit_kind = 'calibration'

),

subscriptions as (

    select * from {{ ref('subscriptions') }}
    where delivery_count >= 1

),

population as (

    select
        subscriptions.source,
        subscriptions.product_id,
        subscriptions.delivery_count,
        subscriptions.status

    from subscriptions
    inner join parameters
        on parameters.source = subscriptions.source
        and parameters.product_id = subscriptions.product_id
        and subscriptions.started_date <= parameters.population_started_on_or_before

),

kaplan_meier as (

    {{ kaplan_meier_by_delivery('population', max_n) }}

),

final as (

    select
        kaplan_meier.source,
        kaplan_meier.product_id,
        cast(kaplan_meier.delivery_number as integer) as delivery_number,
        parameters.alpha,
        parameters.beta,
        cast(parameters.calibration_deliveries as integer) as calibration_deliveries,
        parameters.population_started_on_or_before,
        cast(kaplan_meier.population_size as integer) as population_size,
        cast(kaplan_meier.at_risk as integer) as at_risk,
        kaplan_meier.delivery_number > parameters.calibration_deliveries as is_holdout,
        exp(
            lgamma(parameters.beta + kaplan_meier.delivery_number - 1) + lgamma(parameters.alpha + parameters.beta)
            - lgamma(parameters.beta) - lgamma(parameters.alpha + parameters.beta + kaplan_meier.delivery_number - 1)
        ) as projected_survival,
        kaplan_meier.survival as actual_survival,
        {{ as_of_date() }} as as_of_date

    from kaplan_meier
    inner join parameters
        on parameters.source = kaplan_meier.source
        and parameters.product_id = kaplan_meier.product_id
    where coalesce(kaplan_meier.min_at_risk_before, 1) > 0

)

select
    *,
    projected_survival - actual_survival as survival_error,
    abs(projected_survival - actual_survival) as abs_survival_error
from final
