{{ config(materialized='table') }}

{#- The 定期フロー hazard of each 解約予兆 snapshot's cell, as known at the snapshot: one row per
    snapshot (int_subscriptions__churn_snapshots). Cancellation rate after delivery n of this
    product among opportunities whose outcome was known before the snapshot date (so no row sees
    outcomes from its own future), shrunk towards the rate after delivery n of every product
    when the cell is thin. It carries what baseline (a) knows (product x delivery number) into
    the model without a column per product (feature f_stage_hazard_logit). -#}

{#- Pseudo-count of the shrinkage of a product's stage hazard towards all products'. -#}
{%- set shrink = var('churn_stage_hazard_prior_weight') | float -%}

with

snapshots as (

    select * from {{ ref('int_subscriptions__churn_snapshots') }}

),

resolved_outcomes as (

    select
        source,
        product_id,
        delivery_number,
        label_resolved_date as resolved_date,
        count(*) as resolved,
        count(*) filter (where label_cancelled) as cancelled

    from snapshots
    where snapshot_kind = 'opportunity'
        and label_cancelled is not null
    group by all

),

cell_outcomes_to_date as (

    select
        source,
        product_id,
        delivery_number,
        resolved_date,
        sum(resolved) over cell_to_date as resolved_to_date,
        sum(cancelled) over cell_to_date as cancelled_to_date

    from resolved_outcomes
    window cell_to_date as (
        partition by source, product_id, delivery_number
        order by resolved_date
        rows between unbounded preceding and current row
    )

),

stage_outcomes_to_date as (

    select
        delivery_number,
        resolved_date,
        sum(sum(resolved)) over stage_to_date as resolved_to_date,
        sum(sum(cancelled)) over stage_to_date as cancelled_to_date

    from resolved_outcomes
    group by delivery_number, resolved_date
    window stage_to_date as (
        partition by delivery_number
        order by resolved_date
        rows between unbounded preceding and current row
    )

),

stage_hazards as (

    select
        snapshots.source,
        snapshots.subscription_id,
        snapshots.snapshot_kind,
        snapshots.snapshot_date,
        coalesce(cell.resolved_to_date, 0) as cell_resolved,
        coalesce(cell.cancelled_to_date, 0) as cell_cancelled,
        -- Laplace-smoothed rate of delivery n over every product: 0.5 with no history at all.
        (coalesce(stage.cancelled_to_date, 0) + 1.0) / (coalesce(stage.resolved_to_date, 0) + 2.0) as stage_rate

    from snapshots
    asof left join cell_outcomes_to_date as cell
        on cell.source = snapshots.source
        and cell.product_id = snapshots.product_id
        and cell.delivery_number = snapshots.delivery_number
        and cell.resolved_date < snapshots.snapshot_date
    asof left join stage_outcomes_to_date as stage
        on stage.delivery_number = snapshots.delivery_number
        and stage.resolved_date < snapshots.snapshot_date

),

final as (

    select
        *,
        ({{ shrink }} * stage_rate + cell_cancelled) / ({{ shrink }} + cell_resolved) as stage_hazard_to_date

    from stage_hazards

)

select * from final
