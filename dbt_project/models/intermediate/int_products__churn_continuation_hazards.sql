{#- The hazard after each delivery number of every 定期 product scored by churn_risk_scores, one
    row per source, product and delivery number 1 .. (the highest scored delivery number +
    ltv_sum_horizon_deliveries + 1): the 定期フロー hazard (the fallback probability) and the
    hazard the expected remaining deliveries use (the product's sBG 'full' fit, else the 定期フロー
    hazard). DECISIONLOG.md "解約予兆 features and scores". -#}

{%- set sum_horizon = var('ltv_sum_horizon_deliveries') | int -%}
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

delivery_chances as (

    select * from {{ ref('int_subscriptions__delivery_chances') }}

),

sbg_parameters as (

    select * from {{ ref('stg_model_params__sbg_parameters') }}
    where fit_kind = 'full'

),

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
final as (

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

)

select * from final
