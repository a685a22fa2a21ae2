{#- Observed (Kaplan-Meier) survival by delivery number for a population of 定期契約, per source
    and product: the one definition ltv_projected and ltv_projection_check compare the sBG
    projection against. `population` is a relation or CTE with source, product_id,
    delivery_count and status. Survival to delivery n is the product over m < n of
    (1 - cancelled after exactly m / at risk at m): contracts still running are censored, not
    counted as lost. min_at_risk_before = 0 means the figure rests on nobody observed. -#}
{% macro kaplan_meier_by_delivery(population, max_n) -%}
    with observed as (

        select
            source,
            product_id,
            n.delivery_number,
            count(*) as population_size,
            count(*) filter (where delivery_count >= n.delivery_number) as at_risk,
            count(*) filter (where delivery_count = n.delivery_number and status = 'cancelled') as churned_after

        from {{ population }}
        cross join range(1, {{ max_n }} + 1) as n(delivery_number)
        group by all

    )

    select
        *,
        coalesce(product(case when at_risk > 0 then 1 - churned_after / at_risk else 1 end) over (
            partition by source, product_id order by delivery_number
            rows between unbounded preceding and 1 preceding
        ), 1) as survival,
        min(at_risk) over (
            partition by source, product_id order by delivery_number
            rows between unbounded preceding and 1 preceding
        ) as min_at_risk_before

    from observed
{%- endmacro %}
