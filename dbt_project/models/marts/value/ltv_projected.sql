{#- One row per source, 定期 product and delivery number (1 .. ltv_projected_max_delivery):
    the sBG projection (full fit of the run in force, stg_model_params__sbg_parameters) of survival to that delivery,
    the observed (Kaplan-Meier) survival, and the discounted expected lifetime value of a new
    subscriber (DEL) and the residual value of one who has received that many deliveries (DERL).
    DECISIONLOG.md "Projected subscription LTV" gives the formulas. -#}

{%- set max_n = var('ltv_projected_max_delivery') -%}
{%- set sum_horizon = var('ltv_sum_horizon_deliveries') -%}

with

parameters as (

    select * from {{ ref('stg_model_params__sbg_parameters') }}
    where fit_kind = 'full'

),

products as (

    select * from {{ ref('int_products__unioned') }}

),

subscriptions as (

    select * from {{ ref('subscriptions') }}
    where delivery_count >= 1

),

priced as (

    select
        parameters.source,
        parameters.product_id,
        parameters.alpha,
        parameters.beta,
        parameters.n_subscriptions,
        parameters.model_version,
        products.cycle_days,
        cast(coalesce(products.first_delivery_price, products.price) as double) as first_delivery_price,
        cast(products.price as double) as price,
        cast(products.unit_cost as double) as unit_cost,
        {{ per_delivery_discount_rate('products.cycle_days') }} as discount_rate_per_delivery

    from parameters
    inner join products
        on products.source = parameters.source
        and products.product_id = parameters.product_id

),

-- m = delivery number; survival to delivery m is S(m - 1) = B(alpha, beta + m - 1) / B(alpha, beta).
curve as (

    select
        priced.*,
        m as delivery_number,
        exp(
            lgamma(priced.beta + m - 1) + lgamma(priced.alpha + priced.beta)
            - lgamma(priced.beta) - lgamma(priced.alpha + priced.beta + m - 1)
        ) as survival,
        case when m = 1 then priced.first_delivery_price else priced.price end as delivery_revenue,
        case when m = 1 then priced.first_delivery_price else priced.price end - priced.unit_cost as delivery_margin

    from priced
    cross join range(1, {{ sum_horizon }} + 1) as deliveries(m)

),

discounted as (

    select
        *,
        power(1 + discount_rate_per_delivery, delivery_number - 1) as discount_factor

    from curve

),

-- Per delivery number n, sums over later deliveries m > n (for DERL) via reverse running sums
-- of survival * value / (1 + d)^(m - 1); dividing by S(n - 1) / (1 + d)^(n - 1) rebases them.
running as (

    select
        *,
        sum(survival * price / discount_factor) over later as later_revenue_pv,
        sum(survival * (price - unit_cost) / discount_factor) over later as later_margin_pv,
        sum(survival * delivery_revenue / discount_factor) over whole as del_revenue,
        sum(survival * delivery_margin / discount_factor) over whole as del_margin,
        sum(case when delivery_number <= {{ var('ltv_expected_deliveries_horizon') }} then survival else 0 end)
            over whole as expected_deliveries

    from discounted
    window
        later as (partition by source, product_id order by delivery_number
                  rows between 1 following and unbounded following),
        whole as (partition by source, product_id)

),

kaplan_meier as (

    {{ kaplan_meier_by_delivery('subscriptions', max_n) }}

),

final as (

    select
        running.source,
        running.product_id,
        cast(running.delivery_number as integer) as delivery_number,
        running.alpha,
        running.beta,
        running.model_version,
        cast(running.n_subscriptions as integer) as fitted_subscriptions,
        cast(running.cycle_days as integer) as cycle_days,
        running.discount_rate_per_delivery,
        running.survival as projected_survival,
        -- P(a subscriber at delivery n - 1 also takes delivery n), the sBG retention rate.
        running.survival / lag(running.survival, 1, 1.0) over (
            partition by running.source, running.product_id order by running.delivery_number
        ) as projected_retention_rate,
        -- NULL once nobody was observed at an earlier delivery (nothing to measure).
        case when coalesce(kaplan_meier.min_at_risk_before, 1) > 0 then kaplan_meier.survival end
            as observed_survival,
        cast(kaplan_meier.at_risk as integer) as observed_at_risk,
        running.expected_deliveries,
        running.del_revenue,
        running.del_margin,
        running.later_revenue_pv * running.discount_factor / running.survival as derl_revenue,
        running.later_margin_pv * running.discount_factor / running.survival as derl_margin,
        {{ as_of_date() }} as as_of_date

    from running
    left join kaplan_meier
        on kaplan_meier.source = running.source
        and kaplan_meier.product_id = running.product_id
        and kaplan_meier.delivery_number = running.delivery_number

)

select * from final
where delivery_number <= {{ max_n }}
