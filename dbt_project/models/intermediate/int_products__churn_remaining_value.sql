{#- What a scored 定期契約 is worth if it takes its next delivery, one row per source, product,
    cycle (days) and delivery number n that a 'current' row of int_subscriptions__churn_features
    stands at: the expected deliveries from n + 1 on and one unit's revenue and margin over them,
    each later delivery m weighted by the chance to reach it (the product of 1 - hazard after
    n + 1 .. m - 1, int_products__churn_continuation_hazards) and discounted per delivery from the
    next one (macro per_delivery_discount_rate, as DERL in ltv_projected). churn_risk_scores
    multiplies by the contract's quantity and (1 - probability). -#}

{%- set sum_horizon = var('ltv_sum_horizon_deliveries') | int -%}
{%- set deliveries_horizon = var('ltv_expected_deliveries_horizon') | int -%}

with

features as (

    select * from {{ ref('int_subscriptions__churn_features') }}
    where snapshot_kind = 'current'

),

continuation_hazards as (

    select * from {{ ref('int_products__churn_continuation_hazards') }}

),

products as (

    select * from {{ ref('int_products__unioned') }}

),

positions as (

    select distinct
        features.source,
        features.product_id,
        features.f_cycle_days as cycle_days,
        features.delivery_number

    from features

),

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
            1 + {{ per_delivery_discount_rate('positions.cycle_days') }},
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

final as (

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

)

select * from final
